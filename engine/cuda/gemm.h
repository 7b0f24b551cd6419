// Y = X W^T on the GPU through cuBLASLt: W [n, k] bf16 row-major (a weight matrix as stored),
// X [m, k] bf16 row-major (activations), Y [m, n] f32 row-major; f32 accumulation. In cuBLAS's
// column-major terms Y^T (n x m) = op_T(W^T) X^T, with W^T and X^T the row-major buffers read
// as column-major (leading dimension k).
#ifndef GEMMA_ENGINE_CUDA_GEMM_H_
#define GEMMA_ENGINE_CUDA_GEMM_H_

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/cuda/device.h"

namespace gemma::cuda {

class Gemm {
 public:
  // One handle, a 32 MiB workspace and a plan (descriptors + algorithm) per shape, made on first
  // use; thread-compatible, one stream at a time.
  static absl::StatusOr<Gemm> Create();
  ~Gemm();
  Gemm(Gemm&& other) noexcept;
  Gemm& operator=(Gemm&&) = delete;
  Gemm(const Gemm&) = delete;

  // Y = X W^T (beta = 0). INVALID_ARGUMENT for non-positive sizes; INTERNAL when cuBLASLt finds
  // no algorithm or fails.
  absl::Status Run(const uint16_t* w, const uint16_t* x, float* y, int m, int n, int k,
                   cudaStream_t stream) const;

 private:
  struct Plan;
  Gemm() = default;
  absl::StatusOr<const Plan*> PlanFor(int m, int n, int k) const;

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  mutable std::map<std::tuple<int, int, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_GEMM_H_
