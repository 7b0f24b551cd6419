// LoadBackend of worker_cuda: the CPU engine or the GPU backend (engine/cuda).
#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_backend.h"
#include "parallel/nccl_communicator.h"
#include "service/worker/backend_factory.h"

namespace gemma {
namespace {

struct CudaModels {
  std::unique_ptr<parallel::NcclCommunicator> nccl;  // Outlives the model that uses it.
  std::unique_ptr<cuda::CudaGemma4Model> model;
  std::unique_ptr<cuda::CudaGemma4Drafter> drafter;
};

class OwningCudaBackend : private CudaModels, public cuda::CudaBackend {
 public:
  explicit OwningCudaBackend(CudaModels models)
      : CudaModels(std::move(models)), CudaBackend(*model, drafter.get()) {}
};

}  // namespace

absl::StatusOr<std::unique_ptr<ModelBackend>> LoadBackend(const BackendSpec& spec) {
  if (spec.kind == "cpu") return LoadCpuBackend(spec);
  if (spec.kind != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat("unknown --backend ", spec.kind));
  }
  std::string why;
  if (!cuda::HasGpu(&why)) return absl::FailedPreconditionError("--backend=cuda: " + why);
  CudaModels models;
  if (spec.tp.world_size > 1) {
    parallel::NcclOptions options;
    options.rank = spec.tp.rank;
    options.world_size = spec.tp.world_size;
    options.device = spec.tp.rank % parallel::CudaDeviceCount(&why);
    options.store_address = spec.store_address;
    options.group = spec.group;
    options.timeout = spec.timeout;
    auto nccl = parallel::NcclCommunicator::Connect(options);
    if (!nccl.ok()) return nccl.status();
    models.nccl = std::move(*nccl);
  }
  auto model = cuda::CudaGemma4Model::Load(spec.model, models.nccl.get());
  if (!model.ok()) return model.status();
  models.model = std::move(*model);
  if (!spec.drafter.empty()) {
    auto drafter = cuda::CudaGemma4Drafter::Load(spec.drafter, *models.model);
    if (!drafter.ok()) return drafter.status();
    models.drafter = std::move(*drafter);
  }
  return std::make_unique<OwningCudaBackend>(std::move(models));
}

}  // namespace gemma
