// CPU kernels for the Gemma 4 forward pass, all in f32 arithmetic. Multi-threaded with OpenMP
// over output rows where the work is large; thread-safe (no shared state).
#ifndef GEMMA_ENGINE_CPU_KERNELS_H_
#define GEMMA_ENGINE_CPU_KERNELS_H_

#include <cstdint>

#include "engine/cpu/matrix.h"

namespace gemma::cpu {

// y[n, r] = sum_c x[n, c] * w[r, c] for n < num_inputs, r < w.rows. x: [num_inputs, w.cols],
// y: [num_inputs, w.rows]. Each weight row is read (and converted) once per call.
void MatMul(const Matrix& w, const float* x, int num_inputs, float* y);

// Like MatMul, restricted to rows [row_begin, row_end) of w; y is [num_inputs, row_end - row_begin].
void MatMulRows(const Matrix& w, int64_t row_begin, int64_t row_end, const float* x,
                int num_inputs, float* y);

// Gemma RMSNorm over each of `rows` vectors of `dim`: y = x * (mean(x^2) + eps)^-1/2 * w, with
// w == nullptr for the weightless norm. In place allowed (y == x).
void RmsNorm(const float* x, const float* weight, int rows, int dim, float eps, float* y);

// LayerNorm over each of `rows` vectors: y = (x - mean) / sqrt(var + eps) * w + b (biased
// variance, f32 with double accumulation). In place allowed.
void LayerNorm(const float* x, const float* weight, const float* bias, int rows, int dim,
               float eps, float* y);

// Rotate-half (NeoX) RoPE in place on `heads` vectors of `head_dim` at `position`: pair
// (i, i + head_dim / 2) rotates by position * inv_freq[i] for i < rotated_pairs.
void ApplyRope(float* x, int heads, int head_dim, int rotated_pairs, const float* inv_freq,
               int position);

enum class Gelu {
  kTanh,          // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): Hugging Face's gelu_pytorch_tanh.
  kLlamaCppF16,   // llama.cpp CPU's table: f16(gelu(f16(x))) for |x| < 10 (for parity tests only).
};

// out[i] = gelu(gate[i]) * up[i].
void GeluGate(const float* gate, const float* up, int64_t count, Gelu gelu, float* out);

// sum a[i] * b[i] and y += alpha * x, vectorised for the CPU they run on.
float Dot(const float* a, const float* b, int64_t count);
void Axpy(float alpha, const float* x, int64_t count, float* y);

// out[i] = tanh(in[i]) to within 2 ulp of f32 (vectorised; in place allowed).
void Tanh(const float* in, int64_t count, float* out);

// In-place x = cap * tanh(x / cap) (Gemma's final logit softcap).
void Softcap(float* x, int64_t count, float cap);

// In-place softmax of `count` values.
void Softmax(float* x, int count);

}  // namespace gemma::cpu

#endif  // GEMMA_ENGINE_CPU_KERNELS_H_
