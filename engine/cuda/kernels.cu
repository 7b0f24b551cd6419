#include <cuda_bf16.h>

#include "engine/cuda/kernels.h"

namespace gemma::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kAttentionWarps = 4;
constexpr int kMaxHeadDim = 512;
constexpr int kSplitKeys = 256;  // Keys per split of a long decode row, at least.

__device__ __forceinline__ float Bf16ToFloat(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

__device__ __forceinline__ uint16_t FloatToBf16(float value) {
  const __nv_bfloat16 b = __float2bfloat16_rn(value);
  return *reinterpret_cast<const uint16_t*>(&b);
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffff, v, offset);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float BlockSum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  v = WarpSum(v);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < blockDim.x / 32 ? partial[threadIdx.x] : 0.f;
    s = WarpSum(s);
    if (threadIdx.x == 0) total = s;
  }
  __syncthreads();
  const float result = total;
  __syncthreads();  // partial/total may be reused by the caller's next BlockSum.
  return result;
}

__global__ void EmbedKernel(const uint16_t* __restrict__ table, const int32_t* __restrict__ tokens,
                            int hidden, float scale, int vocab_begin, int vocab_rows,
                            float* __restrict__ out) {
  const int local = tokens[blockIdx.x] - vocab_begin;
  float* dst = out + static_cast<size_t>(blockIdx.x) * hidden;
  if (local < 0 || local >= vocab_rows) {
    for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = 0.f;
    return;
  }
  const uint16_t* row = table + static_cast<size_t>(local) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = Bf16ToFloat(row[c]) * scale;
}

__global__ void InterleaveSlicesKernel(const float* __restrict__ gathered, int rows, int slice,
                                       float* __restrict__ out) {
  const int row = blockIdx.x, rank = blockIdx.y;
  const float* from = gathered + (static_cast<size_t>(rank) * rows + row) * slice;
  float* to = out + (static_cast<size_t>(row) * gridDim.y + rank) * slice;
  for (int j = threadIdx.x; j < slice; j += blockDim.x) to[j] = from[j];
}

__global__ void EmbedConcatKernel(const uint16_t* __restrict__ table,
                                  const int32_t* __restrict__ tokens,
                                  const float* __restrict__ hidden, int width, float scale,
                                  uint16_t* __restrict__ out) {
  const uint16_t* row = table + static_cast<size_t>(tokens[blockIdx.x]) * width;
  const float* g = hidden + static_cast<size_t>(blockIdx.x) * width;
  uint16_t* dst = out + static_cast<size_t>(blockIdx.x) * 2 * width;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    dst[c] = FloatToBf16(Bf16ToFloat(row[c]) * scale);
    dst[width + c] = FloatToBf16(g[c]);
  }
}

__global__ void ArgmaxKernel(const float* __restrict__ x, int cols, int32_t* __restrict__ out) {
  __shared__ float best_value[kThreads];
  __shared__ int best_index[kThreads];
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  float value = -INFINITY;
  int index = cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    if (row[c] > value) {  // Ascending c per thread: the first maximum wins.
      value = row[c];
      index = c;
    }
  }
  best_value[threadIdx.x] = value;
  best_index[threadIdx.x] = index;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const float other = best_value[threadIdx.x + stride];
      const int other_index = best_index[threadIdx.x + stride];
      if (other > best_value[threadIdx.x] ||
          (other == best_value[threadIdx.x] && other_index < best_index[threadIdx.x])) {
        best_value[threadIdx.x] = other;
        best_index[threadIdx.x] = other_index;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = best_index[0] < cols ? best_index[0] : 0;
}

__device__ float RowInverseRms(const float* row, int cols, float eps) {
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c] * row[c];
  return rsqrtf(BlockSum(sum) / cols + eps);
}

__global__ void RmsNormToBf16Kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                    int cols, float eps, uint16_t* __restrict__ y) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  const float scale = RowInverseRms(row, cols, eps);
  uint16_t* out = y + static_cast<size_t>(blockIdx.x) * cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    out[c] = FloatToBf16(row[c] * scale * (weight != nullptr ? weight[c] : 1.f));
  }
}

__global__ void RmsNormResidualKernel(const float* __restrict__ x, const float* __restrict__ weight,
                                      int cols, float eps, float scalar, float* __restrict__ h) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  const float scale = RowInverseRms(row, cols, eps);
  float* out = h + static_cast<size_t>(blockIdx.x) * cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    out[c] = (out[c] + row[c] * scale * weight[c]) * scalar;
  }
}

// In place on one head vector held in shared memory `s` [d]: s = RMSNorm(s) * w (w may be null),
// then RoPE when inv_freq is given. Written to `dst`.
__device__ void NormRopeHead(float* s, const float* w, int d, float eps, const float* inv_freq,
                             int rotated_pairs, int position, float* dst) {
  float sum = 0.f;
  for (int e = threadIdx.x; e < d; e += blockDim.x) sum += s[e] * s[e];
  const float scale = rsqrtf(BlockSum(sum) / d + eps);
  for (int e = threadIdx.x; e < d; e += blockDim.x)
    s[e] = s[e] * scale * (w != nullptr ? w[e] : 1.f);
  __syncthreads();
  const int half = d / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float x0 = s[i], x1 = s[i + half];
    if (inv_freq != nullptr && i < rotated_pairs) {
      const float angle = static_cast<float>(position) * inv_freq[i];
      const float c = cosf(angle), sn = sinf(angle);
      dst[i] = x0 * c - x1 * sn;
      dst[i + half] = x1 * c + x0 * sn;
    } else {
      dst[i] = x0;
      dst[i + half] = x1;
    }
  }
  __syncthreads();
}

// grid (rows, heads + kv_heads): y < heads is a query head; otherwise KV head y - heads (its k and
// its v in the same block, so that v can start from the raw k).
__global__ void QkvNormRopeKernel(float* q, float* k, float* v, const float* q_norm,
                                  const float* k_norm, const int32_t* positions,
                                  const float* inv_freq, int heads, int kv_heads, int d,
                                  int rotated_pairs, float eps, bool v_is_k) {
  __shared__ float s[kMaxHeadDim];
  const int row = blockIdx.x, y = blockIdx.y, position = positions[row];
  if (y < heads) {
    float* head = q + (static_cast<size_t>(row) * heads + y) * d;
    for (int e = threadIdx.x; e < d; e += blockDim.x) s[e] = head[e];
    __syncthreads();
    NormRopeHead(s, q_norm, d, eps, inv_freq, rotated_pairs, position, head);
    return;
  }
  const size_t offset = (static_cast<size_t>(row) * kv_heads + (y - heads)) * d;
  float* key = k + offset;
  float* value = v + offset;
  for (int e = threadIdx.x; e < d; e += blockDim.x) s[e] = key[e];
  __syncthreads();
  if (v_is_k) {  // V = the raw K projection, before k_norm and RoPE.
    for (int e = threadIdx.x; e < d; e += blockDim.x) value[e] = s[e];
    __syncthreads();
  }
  NormRopeHead(s, k_norm, d, eps, inv_freq, rotated_pairs, position, key);
  for (int e = threadIdx.x; e < d; e += blockDim.x) s[e] = value[e];
  __syncthreads();
  NormRopeHead(s, nullptr, d, eps, nullptr, 0, position, value);
}

// (x - mean) / sqrt(var + eps) of one row held by the block, as (center, scale).
__device__ void RowMoments(const float* row, int cols, float eps, float* center, float* scale) {
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c];
  const float mean = BlockSum(sum) / cols;
  float squares = 0.f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) squares += (row[c] - mean) * (row[c] - mean);
  *center = mean;
  *scale = rsqrtf(BlockSum(squares) / cols + eps);
}

__global__ void LayerNormToBf16Kernel(const float* __restrict__ x, const float* __restrict__ weight,
                                      const float* __restrict__ bias, int cols, float eps,
                                      uint16_t* __restrict__ y) {
  const float* row = x + static_cast<size_t>(blockIdx.x) * cols;
  float center, scale;
  RowMoments(row, cols, eps, &center, &scale);
  uint16_t* out = y + static_cast<size_t>(blockIdx.x) * cols;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    out[c] = FloatToBf16((row[c] - center) * scale * weight[c] + bias[c]);
  }
}

// One block per patch; the row lives in shared memory between the steps (hidden <= 8192).
__global__ void ImagePostDenseKernel(const float* __restrict__ x,
                                     const float* __restrict__ dense_bias,
                                     const float* __restrict__ ln2_weight,
                                     const float* __restrict__ ln2_bias,
                                     const float* __restrict__ positions,
                                     const float* __restrict__ pos_norm_weight,
                                     const float* __restrict__ pos_norm_bias, int hidden,
                                     int grid_width, uint16_t* __restrict__ out) {
  extern __shared__ float row[];
  const int i = blockIdx.x, px = i % grid_width, py = i / grid_width;
  const float* in = x + static_cast<size_t>(i) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) row[c] = in[c] + dense_bias[c];
  __syncthreads();
  float center, scale;
  RowMoments(row, hidden, 1e-5f, &center, &scale);
  const float* x_row = positions + (static_cast<size_t>(px) * 2 + 0) * hidden;
  const float* y_row = positions + (static_cast<size_t>(py) * 2 + 1) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) {
    row[c] = (row[c] - center) * scale * ln2_weight[c] + ln2_bias[c] + x_row[c] + y_row[c];
  }
  __syncthreads();
  RowMoments(row, hidden, 1e-5f, &center, &scale);
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) {
    row[c] = (row[c] - center) * scale * pos_norm_weight[c] + pos_norm_bias[c];
  }
  __syncthreads();
  const float rms = RowInverseRms(row, hidden, 1e-6f);
  uint16_t* dst = out + static_cast<size_t>(i) * hidden;
  for (int c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = FloatToBf16(row[c] * rms);
}

__global__ void ScatterRowsKernel(const float* __restrict__ src, const int32_t* __restrict__ rows,
                                  int width, float* __restrict__ h) {
  const float* from = src + static_cast<size_t>(blockIdx.x) * width;
  float* to = h + static_cast<size_t>(rows[blockIdx.x]) * width;
  for (int e = threadIdx.x; e < width; e += blockDim.x) to[e] = from[e];
}

__global__ void StoreKvKernel(const float* __restrict__ k, const float* __restrict__ v,
                              const int32_t* __restrict__ slots, int width,
                              uint16_t* __restrict__ cache_k, uint16_t* __restrict__ cache_v) {
  const size_t src = static_cast<size_t>(blockIdx.x) * width;
  const size_t dst = static_cast<size_t>(slots[blockIdx.x]) * width;
  for (int e = threadIdx.x; e < width; e += blockDim.x) {
    cache_k[dst + e] = FloatToBf16(k[src + e]);
    cache_v[dst + e] = FloatToBf16(v[src + e]);
  }
}

// One block of kAttentionWarps warps per (row, head, split). With gridDim.z splits, each row's
// keys first..last are cut into gridDim.z runs of equal length (trailing runs may be empty), so
// one launch shape serves any context (CUDA graphs replay it); warp w takes every
// kAttentionWarps-th of them; each lane owns dims lane, lane + 32, ... of the head; each warp
// keeps an online softmax (max m, sum l, accumulator), merged across warps at the end. With one
// split the block writes the output; with several it writes (m, l, unnormalised accumulator) to
// `partial` [rows, heads, splits, 2 + d] for CombineSplitsKernel.
__global__ void PagedAttentionKernel(
    const float* __restrict__ q, const uint16_t* __restrict__ cache_k,
    const uint16_t* __restrict__ cache_v, const int32_t* __restrict__ first,
    const int32_t* __restrict__ last, const int32_t* __restrict__ key_base,
    const int32_t* __restrict__ key_slots, int heads, int kv_heads, int d,
    uint16_t* __restrict__ out, float* __restrict__ partial) {
  constexpr int kMaxPerLane = kMaxHeadDim / 32;
  __shared__ float warp_max[kAttentionWarps], warp_sum[kAttentionWarps];
  __shared__ float warp_acc[kAttentionWarps][kMaxHeadDim];
  const int row = blockIdx.x, head = blockIdx.y, split = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int per_lane = d / 32;
  const int kv_head = head / (heads / kv_heads);
  const int width = kv_heads * d;
  const int splits = gridDim.z;
  int lo = first[row], hi = last[row];
  if (splits > 1) {
    const int run = (hi - lo + 1 + splits - 1) / splits;
    lo += split * run;
    hi = min(hi, lo + run - 1);
  }
  const float* query = q + (static_cast<size_t>(row) * heads + head) * d;
  float qv[kMaxPerLane], acc[kMaxPerLane];
  for (int i = 0; i < per_lane; ++i) {
    qv[i] = query[lane + 32 * i];
    acc[i] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const int base = key_base[row];
  for (int j = lo + warp; j <= hi; j += kAttentionWarps) {
    const size_t slot = static_cast<size_t>(key_slots[base + j]) * width + kv_head * d;
    float dot = 0.f;
    for (int i = 0; i < per_lane; ++i) dot += qv[i] * Bf16ToFloat(cache_k[slot + lane + 32 * i]);
    const float score = WarpSum(dot);  // Gemma 4 scales attention logits by 1.0.
    const float m_new = fmaxf(m, score);
    const float correction = expf(m - m_new), weight = expf(score - m_new);
    l = l * correction + weight;
    for (int i = 0; i < per_lane; ++i) {
      acc[i] = acc[i] * correction + weight * Bf16ToFloat(cache_v[slot + lane + 32 * i]);
    }
    m = m_new;
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_sum[warp] = l;
  }
  for (int i = 0; i < per_lane; ++i) warp_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float block_max = -INFINITY;
  for (int w = 0; w < kAttentionWarps; ++w) block_max = fmaxf(block_max, warp_max[w]);
  float block_sum = 0.f;
  for (int w = 0; w < kAttentionWarps; ++w) {
    if (warp_sum[w] > 0.f) block_sum += warp_sum[w] * expf(warp_max[w] - block_max);
  }
  if (splits == 1) {
    uint16_t* dst = out + (static_cast<size_t>(row) * heads + head) * d;
    for (int e = threadIdx.x; e < d; e += blockDim.x) {
      float value = 0.f;
      for (int w = 0; w < kAttentionWarps; ++w) {
        if (warp_sum[w] > 0.f) value += warp_acc[w][e] * expf(warp_max[w] - block_max);
      }
      dst[e] = FloatToBf16(value / block_sum);
    }
    return;
  }
  float* dst = partial + ((static_cast<size_t>(row) * heads + head) * splits + split) * (2 + d);
  if (threadIdx.x == 0) {
    dst[0] = block_sum > 0.f ? block_max : -INFINITY;  // An empty split contributes nothing.
    dst[1] = block_sum;
  }
  for (int e = threadIdx.x; e < d; e += blockDim.x) {
    float value = 0.f;
    for (int w = 0; w < kAttentionWarps; ++w) {
      if (warp_sum[w] > 0.f) value += warp_acc[w][e] * expf(warp_max[w] - block_max);
    }
    dst[2 + e] = value;
  }
}

// out[row, head] = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M), M = max_s m_s.
__global__ void CombineSplitsKernel(const float* __restrict__ partial, int heads, int d, int splits,
                                    uint16_t* __restrict__ out) {
  const int row = blockIdx.x, head = blockIdx.y;
  const float* parts = partial + (static_cast<size_t>(row) * heads + head) * splits * (2 + d);
  float max = -INFINITY;
  for (int s = 0; s < splits; ++s) max = fmaxf(max, parts[s * (2 + d)]);
  float sum = 0.f;
  for (int s = 0; s < splits; ++s) {
    const float* part = parts + s * (2 + d);
    if (part[1] > 0.f) sum += part[1] * expf(part[0] - max);
  }
  uint16_t* dst = out + (static_cast<size_t>(row) * heads + head) * d;
  for (int e = threadIdx.x; e < d; e += blockDim.x) {
    float value = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float* part = parts + s * (2 + d);
      if (part[1] > 0.f) value += part[2 + e] * expf(part[0] - max);
    }
    dst[e] = FloatToBf16(value / sum);
  }
}

__global__ void GeluGateKernel(const float* __restrict__ gate, const float* __restrict__ up,
                               int64_t count, uint16_t* __restrict__ out) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float x = gate[i];
    const float gelu = 0.5f * x * (1.f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    out[i] = FloatToBf16(gelu * up[i]);
  }
}

__global__ void SoftcapKernel(float* x, int64_t count, float cap) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    x[i] = cap * tanhf(x[i] / cap);
  }
}

__global__ void GatherRowsKernel(const float* __restrict__ src, const int32_t* __restrict__ rows,
                                 int width, float* __restrict__ dst) {
  const float* from = src + static_cast<size_t>(rows[blockIdx.x]) * width;
  float* to = dst + static_cast<size_t>(blockIdx.x) * width;
  for (int e = threadIdx.x; e < width; e += blockDim.x) to[e] = from[e];
}

__global__ void ToBf16Kernel(const float* __restrict__ in, int64_t count,
                             uint16_t* __restrict__ out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = FloatToBf16(in[i]);
  }
}

__device__ __forceinline__ uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

__global__ void FillRandomBf16Kernel(uint16_t* out, int64_t count, uint64_t seed, float std) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = SplitMix64(seed * 0x100000001b3ull + static_cast<uint64_t>(i));
    // Box-Muller from two 24-bit uniforms in (0, 1].
    const float u1 = (static_cast<float>(bits >> 40) + 1.f) / 16777216.f;
    const float u2 = static_cast<float>((bits >> 16) & 0xffffff) / 16777216.f;
    out[i] = FloatToBf16(std * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2));
  }
}

int GridFor(int64_t count) {
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 * 8 ? blocks : 65535 * 8);
}

}  // namespace

cudaError_t LaunchEmbed(const uint16_t* table, const int32_t* tokens, int rows, int hidden,
                        float scale, int vocab_begin, int vocab_rows, float* out,
                        cudaStream_t stream) {
  if (rows <= 0 || hidden <= 0 || vocab_rows <= 0) return cudaErrorInvalidValue;
  EmbedKernel<<<rows, kThreads, 0, stream>>>(table, tokens, hidden, scale, vocab_begin, vocab_rows,
                                             out);
  return cudaGetLastError();
}

cudaError_t LaunchInterleaveSlices(const float* gathered, int world, int rows, int slice,
                                   float* out, cudaStream_t stream) {
  if (world <= 0 || rows <= 0 || slice <= 0) return cudaErrorInvalidValue;
  InterleaveSlicesKernel<<<dim3(rows, world), kThreads, 0, stream>>>(gathered, rows, slice, out);
  return cudaGetLastError();
}

cudaError_t LaunchEmbedConcat(const uint16_t* table, const int32_t* tokens, const float* hidden,
                              int rows, int width, float scale, uint16_t* out,
                              cudaStream_t stream) {
  if (rows <= 0 || width <= 0) return cudaErrorInvalidValue;
  EmbedConcatKernel<<<rows, kThreads, 0, stream>>>(table, tokens, hidden, width, scale, out);
  return cudaGetLastError();
}

cudaError_t LaunchArgmax(const float* x, int rows, int cols, int32_t* out, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaErrorInvalidValue;
  ArgmaxKernel<<<rows, kThreads, 0, stream>>>(x, cols, out);
  return cudaGetLastError();
}

cudaError_t LaunchRmsNormToBf16(const float* x, const float* weight, int rows, int cols, float eps,
                                uint16_t* y, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaErrorInvalidValue;
  RmsNormToBf16Kernel<<<rows, kThreads, 0, stream>>>(x, weight, cols, eps, y);
  return cudaGetLastError();
}

cudaError_t LaunchRmsNormResidual(const float* x, const float* weight, int rows, int cols,
                                  float eps, float scalar, float* h, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0 || weight == nullptr) return cudaErrorInvalidValue;
  RmsNormResidualKernel<<<rows, kThreads, 0, stream>>>(x, weight, cols, eps, scalar, h);
  return cudaGetLastError();
}

cudaError_t LaunchQkvNormRope(float* q, float* k, float* v, const float* q_norm,
                              const float* k_norm, const int32_t* positions, const float* inv_freq,
                              int rows, int heads, int kv_heads, int head_dim, int rotated_pairs,
                              float eps, bool v_is_k, cudaStream_t stream) {
  if (rows <= 0 || heads <= 0 || kv_heads < 0 || head_dim <= 0 || head_dim > kMaxHeadDim ||
      head_dim % 2 != 0 || rotated_pairs > head_dim / 2 ||
      (kv_heads > 0 && (k == nullptr || v == nullptr))) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(rows, heads + kv_heads);
  QkvNormRopeKernel<<<grid, 128, 0, stream>>>(q, k, v, q_norm, k_norm, positions, inv_freq, heads,
                                              kv_heads, head_dim, rotated_pairs, eps, v_is_k);
  return cudaGetLastError();
}

cudaError_t LaunchStoreKv(const float* k, const float* v, const int32_t* slots, int rows, int width,
                          uint16_t* cache_k, uint16_t* cache_v, cudaStream_t stream) {
  if (rows <= 0 || width <= 0) return cudaErrorInvalidValue;
  StoreKvKernel<<<rows, kThreads, 0, stream>>>(k, v, slots, width, cache_k, cache_v);
  return cudaGetLastError();
}

AttentionSplits PlanAttentionSplits(int rows, int heads, int head_dim, int max_keys,
                                    int multiprocessors) {
  AttentionSplits plan;
  // Split only when the (row, head) blocks cannot fill the GPU about twice and rows are long.
  const int blocks = rows * heads;
  if (max_keys <= kSplitKeys || blocks >= 2 * multiprocessors) return plan;
  const int wanted = (2 * multiprocessors + blocks - 1) / blocks;
  const int needed = (max_keys + kSplitKeys - 1) / kSplitKeys;
  plan.splits = wanted < needed ? wanted : needed;
  plan.scratch_floats = static_cast<size_t>(blocks) * plan.splits * (2 + head_dim);
  if (plan.splits <= 1) plan = AttentionSplits{};
  return plan;
}

cudaError_t LaunchPagedAttention(const float* q, const uint16_t* cache_k, const uint16_t* cache_v,
                                 const int32_t* first, const int32_t* last, const int32_t* key_base,
                                 const int32_t* key_slots, int rows, int heads, int kv_heads,
                                 int head_dim, const AttentionSplits& splits, float* scratch,
                                 uint16_t* out, cudaStream_t stream) {
  if (rows <= 0 || heads <= 0 || kv_heads <= 0 || heads % kv_heads != 0 || head_dim % 32 != 0 ||
      head_dim <= 0 || head_dim > kMaxHeadDim || (splits.splits > 1 && scratch == nullptr)) {
    return cudaErrorInvalidValue;
  }
  if (splits.splits <= 1) {
    const dim3 grid(rows, heads, 1);
    PagedAttentionKernel<<<grid, 32 * kAttentionWarps, 0, stream>>>(
        q, cache_k, cache_v, first, last, key_base, key_slots, heads, kv_heads, head_dim, out,
        nullptr);
    return cudaGetLastError();
  }
  const dim3 grid(rows, heads, splits.splits);
  PagedAttentionKernel<<<grid, 32 * kAttentionWarps, 0, stream>>>(q, cache_k, cache_v, first, last,
                                                                  key_base, key_slots, heads,
                                                                  kv_heads, head_dim, out, scratch);
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) return error;
  CombineSplitsKernel<<<dim3(rows, heads), 128, 0, stream>>>(scratch, heads, head_dim,
                                                             splits.splits, out);
  return cudaGetLastError();
}

cudaError_t LaunchLayerNormToBf16(const float* x, const float* weight, const float* bias, int rows,
                                  int cols, float eps, uint16_t* y, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaErrorInvalidValue;
  LayerNormToBf16Kernel<<<rows, kThreads, 0, stream>>>(x, weight, bias, cols, eps, y);
  return cudaGetLastError();
}

cudaError_t LaunchImagePostDense(const float* x, const float* dense_bias, const float* ln2_weight,
                                 const float* ln2_bias, const float* positions,
                                 const float* pos_norm_weight, const float* pos_norm_bias, int rows,
                                 int hidden, int grid_width, uint16_t* out, cudaStream_t stream) {
  if (rows <= 0 || hidden <= 0 || hidden > 8192 || grid_width <= 0) return cudaErrorInvalidValue;
  ImagePostDenseKernel<<<rows, kThreads, hidden * sizeof(float), stream>>>(
      x, dense_bias, ln2_weight, ln2_bias, positions, pos_norm_weight, pos_norm_bias, hidden,
      grid_width, out);
  return cudaGetLastError();
}

cudaError_t LaunchScatterRows(const float* src, const int32_t* rows, int count, int width, float* h,
                              cudaStream_t stream) {
  if (count <= 0 || width <= 0) return cudaErrorInvalidValue;
  ScatterRowsKernel<<<count, kThreads, 0, stream>>>(src, rows, width, h);
  return cudaGetLastError();
}

cudaError_t LaunchGeluGate(const float* gate, const float* up, int64_t count, uint16_t* out,
                           cudaStream_t stream) {
  if (count <= 0) return cudaErrorInvalidValue;
  GeluGateKernel<<<GridFor(count), kThreads, 0, stream>>>(gate, up, count, out);
  return cudaGetLastError();
}

cudaError_t LaunchSoftcap(float* x, int64_t count, float cap, cudaStream_t stream) {
  if (count <= 0 || cap <= 0.f) return cudaErrorInvalidValue;
  SoftcapKernel<<<GridFor(count), kThreads, 0, stream>>>(x, count, cap);
  return cudaGetLastError();
}

cudaError_t LaunchGatherRows(const float* src, const int32_t* rows, int count, int width,
                             float* dst, cudaStream_t stream) {
  if (count <= 0 || width <= 0) return cudaErrorInvalidValue;
  GatherRowsKernel<<<count, kThreads, 0, stream>>>(src, rows, width, dst);
  return cudaGetLastError();
}

cudaError_t LaunchToBf16(const float* in, int64_t count, uint16_t* out, cudaStream_t stream) {
  if (count <= 0) return cudaErrorInvalidValue;
  ToBf16Kernel<<<GridFor(count), kThreads, 0, stream>>>(in, count, out);
  return cudaGetLastError();
}

cudaError_t LaunchFillRandomBf16(uint16_t* out, int64_t count, uint64_t seed, float std,
                                 cudaStream_t stream) {
  if (count <= 0) return cudaErrorInvalidValue;
  FillRandomBf16Kernel<<<GridFor(count), kThreads, 0, stream>>>(out, count, seed, std);
  return cudaGetLastError();
}

}  // namespace gemma::cuda
