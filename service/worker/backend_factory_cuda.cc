// LoadBackend of worker_cuda: the CPU engine or the GPU backend (engine/cuda).
#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_backend.h"
#include "service/worker/backend_factory.h"

namespace gemma {
namespace {

struct CudaModels {
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
  if (spec.tp.world_size > 1) {
    return absl::UnimplementedError(
        "tensor parallelism is not implemented on the GPU backend yet (run one rank per GPU "
        "group of size 1, or --backend=cpu)");
  }
  std::string why;
  if (!cuda::HasGpu(&why)) return absl::FailedPreconditionError("--backend=cuda: " + why);
  CudaModels models;
  auto model = cuda::CudaGemma4Model::Load(spec.model);
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
