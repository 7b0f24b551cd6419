#include "engine/cuda/rms_norm.h"

namespace gemma::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void RmsNormKernel(const float* __restrict__ x, const float* __restrict__ weight,
                              float* __restrict__ y, int cols, float eps) {
  const float* row_in = x + static_cast<size_t>(blockIdx.x) * cols;
  float* row_out = y + static_cast<size_t>(blockIdx.x) * cols;
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += row_in[c] * row_in[c];
  // Warp reduction, then one partial per warp through shared memory.
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  __shared__ float partial[kThreads / 32];
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    sum = threadIdx.x < kThreads / 32 ? partial[threadIdx.x] : 0.f;
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
    if (threadIdx.x == 0) partial[0] = rsqrtf(sum / cols + eps);
  }
  __syncthreads();
  const float scale = partial[0];
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    row_out[c] = row_in[c] * scale * (weight != nullptr ? weight[c] : 1.f);
  }
}

}  // namespace

cudaError_t LaunchRmsNorm(const float* x, const float* weight, float* y, int rows, int cols,
                          float eps, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaErrorInvalidValue;
  RmsNormKernel<<<rows, kThreads, 0, stream>>>(x, weight, y, cols, eps);
  return cudaGetLastError();
}

}  // namespace gemma::cuda
