// The model backend a worker serves, chosen by --backend: "cpu" (the CPU engine, any tensor
// parallelism) in every worker binary; "cuda" only in worker_cuda (backend_factory_cuda.cc),
// so that the CPU image needs no CUDA libraries.
#ifndef GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_
#define GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model/tensor_parallel.h"

namespace gemma {

struct BackendSpec {
  std::string kind = "cpu";
  std::string model;    // HF directory or GGUF.
  std::string drafter;  // Empty: none.
  TensorParallel tp;
};

// The loaded model (and drafter) behind the interface; the backend owns them.
absl::StatusOr<std::unique_ptr<ModelBackend>> LoadBackend(const BackendSpec& spec);

// The CPU part every factory shares.
absl::StatusOr<std::unique_ptr<ModelBackend>> LoadCpuBackend(const BackendSpec& spec);

}  // namespace gemma

#endif  // GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_
