#include "engine/model/gemma4_drafter.h"
#include "service/worker/backend_factory.h"

namespace gemma {
namespace {

struct CpuModels {
  std::unique_ptr<Gemma4Model> model;
  std::unique_ptr<Gemma4Drafter> drafter;
};

// CpuModels first: constructed before, destroyed after, the backend that refers to them.
class OwningCpuBackend : private CpuModels, public CpuBackend {
 public:
  explicit OwningCpuBackend(CpuModels models)
      : CpuModels(std::move(models)), CpuBackend(*model, drafter.get()) {}
};

}  // namespace

absl::StatusOr<std::unique_ptr<ModelBackend>> LoadCpuBackend(const BackendSpec& spec) {
  CpuModels models;
  absl::StatusOr<std::unique_ptr<Gemma4Model>> model = Gemma4Model::Load(spec.model, spec.tp);
  if (!model.ok()) return model.status();
  models.model = std::move(*model);
  if (!spec.drafter.empty()) {
    absl::StatusOr<std::unique_ptr<Gemma4Drafter>> drafter =
        Gemma4Drafter::Load(spec.drafter, *models.model);
    if (!drafter.ok()) return drafter.status();
    models.drafter = std::move(*drafter);
  }
  return std::make_unique<OwningCpuBackend>(std::move(models));
}

}  // namespace gemma
