// LoadBackend of the plain worker binary: the CPU engine only.
#include "absl/strings/str_cat.h"
#include "service/worker/backend_factory.h"

namespace gemma {

absl::StatusOr<std::unique_ptr<ModelBackend>> LoadBackend(const BackendSpec& spec) {
  if (spec.kind == "cpu") return LoadCpuBackend(spec);
  if (spec.kind == "cuda") {
    return absl::UnimplementedError(
        "this worker binary has no GPU backend: run worker_cuda for --backend=cuda");
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown --backend ", spec.kind));
}

}  // namespace gemma
