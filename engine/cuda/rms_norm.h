// Gemma 4 RMSNorm on the GPU (the CUDA path's smoke kernel; the full backend builds on it):
//   y[r, :] = x[r, :] * (mean(x[r, :]^2) + eps)^(-1/2) * w      (weight used as-is, not 1 + w)
// All fp32. Plain C++ interface so that callers need no CUDA compiler.
#ifndef GEMMA_ENGINE_CUDA_RMS_NORM_H_
#define GEMMA_ENGINE_CUDA_RMS_NORM_H_

#include <cuda_runtime_api.h>

namespace gemma::cuda {

// x, y: device [rows, cols]; weight: device [cols] or nullptr for the weightless norm (v_norm).
// One block per row. Asynchronous on `stream`; returns the launch error, if any.
cudaError_t LaunchRmsNorm(const float* x, const float* weight, float* y, int rows, int cols,
                          float eps, cudaStream_t stream);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_RMS_NORM_H_
