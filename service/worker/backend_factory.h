// The model backend a worker serves, chosen by --backend: "cpu" (the CPU engine, any tensor
// parallelism) in every worker binary; "cuda" only in worker_cuda (backend_factory_cuda.cc),
// so that the CPU image needs no CUDA libraries.
#ifndef GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_
#define GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_

#include <chrono>
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
  // cpu: the group's communicator is made by the caller (Gloo) and given in tp.
  TensorParallel tp;
  // cuda with tp.world_size > 1: the factory connects NCCL (one GPU per rank, device = the
  // rank modulo the visible GPUs) through the group's rendezvous store.
  std::string store_address;
  std::string group = "default";
  std::chrono::milliseconds timeout{30000};
};

// The loaded model (and drafter) behind the interface; the backend owns them.
absl::StatusOr<std::unique_ptr<ModelBackend>> LoadBackend(const BackendSpec& spec);

// The CPU part every factory shares.
absl::StatusOr<std::unique_ptr<ModelBackend>> LoadCpuBackend(const BackendSpec& spec);

}  // namespace gemma

#endif  // GEMMA_SERVICE_WORKER_BACKEND_FACTORY_H_
