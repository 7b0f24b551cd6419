// The elementwise and per-row kernels of a Gemma 4 step on the GPU (math: the CPU engine's,
// engine/cpu/kernels.h and engine/model/gemma4.cc). Activations are f32; weights and the KV
// cache are bf16 (uint16_t bit patterns here, so callers need no CUDA compiler). Every launcher
// is asynchronous on `stream` and returns the launch error.
#ifndef GEMMA_ENGINE_CUDA_KERNELS_H_
#define GEMMA_ENGINE_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace gemma::cuda {

// out[r, :] = f32(table[tokens[r] - vocab_begin, :]) * scale, or 0 when this rank's
// vocabulary slice [vocab_begin, vocab_begin + vocab_rows) does not hold the token (tensor
// parallelism: the ranks' rows are then summed).
cudaError_t LaunchEmbed(const uint16_t* table, const int32_t* tokens, int rows, int hidden,
                        float scale, int vocab_begin, int vocab_rows, float* out,
                        cudaStream_t stream);

// out[r, w * slice + j] = gathered[w, r, j]: the ranks' vocabulary slices of the logits (an
// all-gather's layout) side by side per row.
cudaError_t LaunchInterleaveSlices(const float* gathered, int world, int rows, int slice,
                                   float* out, cudaStream_t stream);

// The MTP drafter's input: out[r, :] = bf16([f32(table[tokens[r], :]) * scale ; hidden[r, :]]),
// [rows, 2 * width].
cudaError_t LaunchEmbedConcat(const uint16_t* table, const int32_t* tokens, const float* hidden,
                              int rows, int width, float scale, uint16_t* out, cudaStream_t stream);

// out[r] = argmax of x[r, :] (the lowest index among equal maxima), [rows, cols].
cudaError_t LaunchArgmax(const float* x, int rows, int cols, int32_t* out, cudaStream_t stream);

// y[r, :] = RMSNorm(x[r, :]) * w, as bf16 (the next GEMM's input). w may be nullptr (weightless).
cudaError_t LaunchRmsNormToBf16(const float* x, const float* weight, int rows, int cols, float eps,
                                uint16_t* y, cudaStream_t stream);

// h[r, :] = (h[r, :] + RMSNorm(x[r, :]) * w) * scalar: the post-attention (scalar 1) and
// post-FFN (scalar = layer_scalar) residual updates.
cudaError_t LaunchRmsNormResidual(const float* x, const float* weight, int rows, int cols,
                                  float eps, float scalar, float* h, cudaStream_t stream);

// Per row r and head: q = RoPE(RMSNorm(q) * q_norm), k = RoPE(RMSNorm(k) * k_norm),
// v = RMSNorm(v) (weightless). With `v_is_k` (k_eq_v full layers) v starts as the raw k.
// RoPE rotates pairs (i, i + d/2) for i < rotated_pairs by positions[r] * inv_freq[i]; the rest
// pass through. q: [rows, heads, d], k, v: [rows, kv_heads, d]; inv_freq on the device.
// kv_heads == 0 (k, v null): queries only (the MTP drafter).
cudaError_t LaunchQkvNormRope(float* q, float* k, float* v, const float* q_norm,
                              const float* k_norm, const int32_t* positions, const float* inv_freq,
                              int rows, int heads, int kv_heads, int head_dim, int rotated_pairs,
                              float eps, bool v_is_k, cudaStream_t stream);

// cache_k[slots[r], :] = bf16(k[r, :]), same for v; width = kv_heads * head_dim.
cudaError_t LaunchStoreKv(const float* k, const float* v, const int32_t* slots, int rows, int width,
                          uint16_t* cache_k, uint16_t* cache_v, cudaStream_t stream);

// How paged attention spreads long rows over several blocks (split-K flash decoding): with
// few (row, head) pairs - decode at small batch - each row's keys are cut into `splits` equal
// runs, computed in parallel and merged by a second kernel. splits == 1: one block per
// (row, head), no scratch.
struct AttentionSplits {
  int splits = 1;
  size_t scratch_floats = 0;  // Device scratch the split launch needs.
};
// At least 256 keys per run. `max_keys`: the longest row's key count (last - first + 1), or the
// longest it may become (a CUDA graph's shape); `multiprocessors`: the device's.
AttentionSplits PlanAttentionSplits(int rows, int heads, int head_dim, int max_keys,
                                    int multiprocessors);

// Paged attention (scale 1.0): keys of row r are positions first[r]..last[r], key j at physical
// row key_slots[key_base[r] + j] of cache_k / cache_v ([slots, kv_heads, head_dim] bf16);
// online softmax in f32, split as `splits` says (scratch: splits.scratch_floats floats). out:
// [rows, heads, head_dim] bf16 (the o_proj GEMM's input). head_dim a multiple of 32, <= 512.
cudaError_t LaunchPagedAttention(const float* q, const uint16_t* cache_k, const uint16_t* cache_v,
                                 const int32_t* first, const int32_t* last, const int32_t* key_base,
                                 const int32_t* key_slots, int rows, int heads, int kv_heads,
                                 int head_dim, const AttentionSplits& splits, float* scratch,
                                 uint16_t* out, cudaStream_t stream);

// The 12B's image embedder around its dense layer (engine/model/gemma4_embedders.h):
//   LaunchLayerNormToBf16: y = bf16(LayerNorm(x) * w + b), eps 1e-5, [rows, cols];
//   LaunchImagePostDense: per patch i at (i % grid_width, i / grid_width):
//     x = LayerNorm2(x + dense_bias) + positions[px, 0, :] + positions[py, 1, :];
//     out = bf16(RMSNorm(LayerNorm_pos(x)))  (weightless RMSNorm, eps 1e-6), [rows, H].
// positions: f32 [table, 2, H] on the device.
cudaError_t LaunchLayerNormToBf16(const float* x, const float* weight, const float* bias, int rows,
                                  int cols, float eps, uint16_t* y, cudaStream_t stream);
cudaError_t LaunchImagePostDense(const float* x, const float* dense_bias, const float* ln2_weight,
                                 const float* ln2_bias, const float* positions,
                                 const float* pos_norm_weight, const float* pos_norm_bias, int rows,
                                 int hidden, int grid_width, uint16_t* out, cudaStream_t stream);

// h[rows[r], :] = src[r, :] (soft tokens replace their placeholders' rows), width floats.
cudaError_t LaunchScatterRows(const float* src, const int32_t* rows, int count, int width, float* h,
                              cudaStream_t stream);

// out = bf16(gelu_tanh(gate) * up), count elements.
cudaError_t LaunchGeluGate(const float* gate, const float* up, int64_t count, uint16_t* out,
                           cudaStream_t stream);

// x = cap * tanh(x / cap).
cudaError_t LaunchSoftcap(float* x, int64_t count, float cap, cudaStream_t stream);

// dst[r, :] = src[rows[r], :] (the rows whose logits are wanted), width floats.
cudaError_t LaunchGatherRows(const float* src, const int32_t* rows, int count, int width,
                             float* dst, cudaStream_t stream);

// out = bf16(in), count elements.
cudaError_t LaunchToBf16(const float* in, int64_t count, uint16_t* out, cudaStream_t stream);

// Fills a bf16 buffer with N(0, std) from a counter-based hash of (seed, index): random weights
// with the real model's shapes for benchmarks, without a checkpoint.
cudaError_t LaunchFillRandomBf16(uint16_t* out, int64_t count, uint64_t seed, float std,
                                 cudaStream_t stream);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_KERNELS_H_
