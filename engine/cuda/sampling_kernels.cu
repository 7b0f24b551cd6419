#include <cub/device/device_segmented_radix_sort.cuh>

#include "engine/cuda/penalty_edit.h"
#include "engine/cuda/sampling_kernels.h"

namespace gemma::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void ApplyEditsKernel(float* logits, int vocab, const int32_t* row, const int32_t* token,
                                 const uint8_t* suppress, const float* repetition,
                                 const float* subtract, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float& l = logits[static_cast<size_t>(row[i]) * vocab + token[i]];
  l = ApplyEdit(l, suppress[i] != 0, repetition[i], subtract[i]);
}

__global__ void IdsKernel(int32_t* ids, int rows, int vocab) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
       i < static_cast<size_t>(rows) * vocab; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    ids[i] = static_cast<int32_t>(i % vocab);
  }
}

// Reduction over the block with `op` (blockDim.x == kThreads, a power of two); every thread
// gets the result.
template <typename T, typename Op>
__device__ T BlockReduce(T v, Op op) {
  __shared__ T partial[kThreads];
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride)
      partial[threadIdx.x] = op(partial[threadIdx.x], partial[threadIdx.x + stride]);
    __syncthreads();
  }
  const T total = partial[0];
  __syncthreads();
  return total;
}

__device__ double BlockSumDouble(double v) {
  return BlockReduce(v, [](double a, double b) { return a + b; });
}

__device__ float BlockMax(float v) {
  return BlockReduce(v, [](float a, float b) { return fmaxf(a, b); });
}

// Exclusive prefix of each thread's value over the block (thread order).
__device__ double BlockExclusivePrefix(double v) {
  __shared__ double values[kThreads];
  values[threadIdx.x] = v;
  __syncthreads();
  double prefix = 0;
  for (int t = 0; t < static_cast<int>(threadIdx.x); ++t) prefix += values[t];
  __syncthreads();
  return prefix;
}

// The first index i of [0, n) whose running sum of value(i) satisfies `crosses`, each thread
// owning a contiguous segment; n when none does.
template <typename Value, typename Crosses>
__device__ int FirstCrossing(int n, Value value, Crosses crosses) {
  __shared__ int first;
  if (threadIdx.x == 0) first = n;
  __syncthreads();
  const int segment = (n + blockDim.x - 1) / blockDim.x;
  const int begin = min(n, static_cast<int>(threadIdx.x) * segment);
  const int end = min(n, begin + segment);
  double local = 0;
  for (int i = begin; i < end; ++i) local += value(i);
  double running = BlockExclusivePrefix(local);
  for (int i = begin; i < end; ++i) {
    running += value(i);
    if (crosses(running)) {
      atomicMin(&first, i);
      break;
    }
  }
  __syncthreads();
  const int result = first;
  __syncthreads();
  return result;
}

// The CPU's DrawFrom over n entries with probabilities float(weight(i) / kept_sum): the first
// whose cumulative sum exceeds `u`; when rounding left the total just under 1, the last entry
// with weight. Every thread gets the index.
template <typename Weight>
__device__ int Draw(int n, Weight weight, double kept_sum, double u) {
  int chosen = FirstCrossing(
      n, [&](int i) { return static_cast<double>(static_cast<float>(weight(i) / kept_sum)); },
      [&](double cumulative) { return u < cumulative; });
  if (chosen == n) {
    for (int i = n - 1; i >= 0; --i) {
      if (weight(i) > 0) {
        chosen = i;
        break;
      }
    }
  }
  return chosen;
}

// Rows sampled in token order (no top-k / top-p): weights exp(l / T - max / T), min-p, then the
// draw. drawn[row] = -1 when every weight is 0 (all suppressed).
__global__ void TokenOrderDrawKernel(const float* __restrict__ logits, int vocab,
                                     const float* __restrict__ temperature,
                                     const float* __restrict__ min_p,
                                     const uint8_t* __restrict__ sorted,
                                     const double* __restrict__ uniform,
                                     int32_t* __restrict__ drawn) {
  const int row = blockIdx.x;
  const float t = temperature[row];
  if (t == 0.f || sorted[row]) return;
  const float* l = logits + static_cast<size_t>(row) * vocab;
  float max_logit = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) max_logit = fmaxf(max_logit, l[i]);
  const double max = static_cast<double>(BlockMax(max_logit) / t);
  const double threshold = min_p[row];
  auto weight = [&](int i) {
    const double w = exp(static_cast<double>(l[i] / t) - max);
    return w > 0 && w >= threshold ? w : 0.0;
  };
  double local = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) local += weight(i);
  const double kept_sum = BlockSumDouble(local);
  if (kept_sum <= 0) {
    if (threadIdx.x == 0) drawn[row] = -1;
    return;
  }
  const int chosen = Draw(vocab, weight, kept_sum, uniform[row]);
  if (threadIdx.x == 0) drawn[row] = chosen;
}

// Rows with top-k / top-p over their logits sorted descending (ids alongside).
__global__ void SortedDrawKernel(const float* __restrict__ sorted_logits,
                                 const int32_t* __restrict__ sorted_ids, int vocab,
                                 const float* __restrict__ temperature,
                                 const int32_t* __restrict__ top_k, const float* __restrict__ top_p,
                                 const float* __restrict__ min_p,
                                 const uint8_t* __restrict__ sorted,
                                 const double* __restrict__ uniform, int32_t* __restrict__ drawn) {
  const int row = blockIdx.x;
  const float t = temperature[row];
  if (t == 0.f || !sorted[row]) return;
  const float* l = sorted_logits + static_cast<size_t>(row) * vocab;
  const int32_t* ids = sorted_ids + static_cast<size_t>(row) * vocab;
  const int n = top_k[row] > 0 ? top_k[row] : vocab;
  const double max = static_cast<double>(l[0] / t);  // The largest logit sorts first.
  auto weight = [&](int i) { return exp(static_cast<double>(l[i] / t) - max); };
  double local = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) local += weight(i);
  const double sum = BlockSumDouble(local);
  int kept = n;
  if (top_p[row] < 1.f) {
    const double p = top_p[row];
    const int last = FirstCrossing(
        n, [&](int i) { return weight(i) / sum; },
        [&](double cumulative) { return cumulative >= p; });
    if (last < n) kept = last + 1;
  }
  const double threshold = min_p[row];
  auto kept_weight = [&](int i) {
    const double w = weight(i);
    return i < kept && w > 0 && w >= threshold ? w : 0.0;
  };
  local = 0;
  for (int i = threadIdx.x; i < kept; i += blockDim.x) local += kept_weight(i);
  const double kept_sum = BlockSumDouble(local);
  if (kept_sum <= 0) {
    if (threadIdx.x == 0) drawn[row] = -1;
    return;
  }
  const int chosen = Draw(kept, kept_weight, kept_sum, uniform[row]);
  if (threadIdx.x == 0) drawn[row] = ids[chosen];
}

__global__ void SelectKernel(const float* __restrict__ temperature,
                             const int32_t* __restrict__ best, const int32_t* __restrict__ drawn,
                             const int32_t* __restrict__ raw_best, int rows,
                             int32_t* __restrict__ tokens) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  if (temperature[row] == 0.f) {
    tokens[row] = best[row];
  } else {
    tokens[row] = drawn[row] >= 0 ? drawn[row] : raw_best[row];  // All suppressed: raw argmax.
  }
}

}  // namespace

cudaError_t LaunchApplyEdits(float* logits, int vocab, const int32_t* row, const int32_t* token,
                             const uint8_t* suppress, const float* repetition,
                             const float* subtract, int count, cudaStream_t stream) {
  if (count <= 0) return cudaSuccess;
  ApplyEditsKernel<<<(count + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
      logits, vocab, row, token, suppress, repetition, subtract, count);
  return cudaGetLastError();
}

cudaError_t LaunchTokenOrderDraw(const float* logits, int rows, int vocab, const float* temperature,
                                 const float* min_p, const uint8_t* sorted, const double* uniform,
                                 int32_t* drawn, cudaStream_t stream) {
  if (rows <= 0 || vocab <= 0) return cudaErrorInvalidValue;
  TokenOrderDrawKernel<<<rows, kThreads, 0, stream>>>(logits, vocab, temperature, min_p, sorted,
                                                      uniform, drawn);
  return cudaGetLastError();
}

cudaError_t SortRowsDescending(void* temp, size_t* temp_bytes, const float* logits,
                               float* sorted_logits, int32_t* ids, int32_t* sorted_ids, int rows,
                               int vocab, const int32_t* offsets, cudaStream_t stream) {
  if (temp != nullptr) {
    IdsKernel<<<1024, kThreads, 0, stream>>>(ids, rows, vocab);
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) return error;
  }
  return cub::DeviceSegmentedRadixSort::SortPairsDescending(
      temp, *temp_bytes, logits, sorted_logits, ids, sorted_ids, rows * vocab, rows, offsets,
      offsets + 1, 0, 32, stream);
}

cudaError_t LaunchSortedDraw(const float* sorted_logits, const int32_t* sorted_ids, int rows,
                             int vocab, const float* temperature, const int32_t* top_k,
                             const float* top_p, const float* min_p, const uint8_t* sorted,
                             const double* uniform, int32_t* drawn, cudaStream_t stream) {
  if (rows <= 0 || vocab <= 0) return cudaErrorInvalidValue;
  SortedDrawKernel<<<rows, kThreads, 0, stream>>>(sorted_logits, sorted_ids, vocab, temperature,
                                                  top_k, top_p, min_p, sorted, uniform, drawn);
  return cudaGetLastError();
}

cudaError_t LaunchSelectTokens(const float* temperature, const int32_t* best, const int32_t* drawn,
                               const int32_t* raw_best, int rows, int32_t* tokens,
                               cudaStream_t stream) {
  if (rows <= 0) return cudaErrorInvalidValue;
  SelectKernel<<<(rows + kThreads - 1) / kThreads, kThreads, 0, stream>>>(temperature, best, drawn,
                                                                          raw_best, rows, tokens);
  return cudaGetLastError();
}

}  // namespace gemma::cuda
