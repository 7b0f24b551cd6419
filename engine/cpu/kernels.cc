#include "engine/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <immintrin.h>

namespace gemma::cpu {
namespace {

// Rows of at least this many multiply-adds per thread are worth parallelising.
constexpr int64_t kMinWorkPerThread = 1 << 15;

// 16 floats; compiled to one zmm (AVX-512), two ymm (AVX2) or four xmm per the clone below.
typedef float Vec16 __attribute__((vector_size(64)));

__attribute__((always_inline)) inline Vec16 Load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

__attribute__((always_inline)) inline float Sum16(Vec16 v) {
  float s = 0.f;
  for (int k = 0; k < 16; ++k) s += v[k];
  return s;
}

// Readers of 16 consecutive weights as f32, for each stored dtype. `row` points at a weight row;
// `c` is a multiple of 16.
struct F32Weights {
  static Vec16 Load(const void* row, int64_t c) { return Load16(static_cast<const float*>(row) + c); }
  static float At(const void* row, int64_t c) { return static_cast<const float*>(row)[c]; }
};

struct Bf16Weights {
  __attribute__((always_inline)) static Vec16 Load(const void* row, int64_t c) {
    typedef uint16_t U16x16 __attribute__((vector_size(32)));
    typedef uint32_t U32x16 __attribute__((vector_size(64)));
    U16x16 half;
    std::memcpy(&half, static_cast<const uint16_t*>(row) + c, sizeof(half));
    const U32x16 wide = __builtin_convertvector(half, U32x16) << 16;
    Vec16 v;
    std::memcpy(&v, &wide, sizeof(v));
    return v;
  }
  static float At(const void* row, int64_t c) {
    return Bf16ToF32(static_cast<const uint16_t*>(row)[c]);
  }
};

// f16 -> f32 for every bit pattern (q8_0 block scales), built at start-up so the hot loop reads
// it without a guard.
const float* BuildF16Table() {
  float* t = new float[65536];
  for (uint32_t i = 0; i < 65536; ++i) t[i] = F16ToF32(static_cast<uint16_t>(i));
  return t;
}
const float* const kF16Table = BuildF16Table();

struct Q8_0Weights {
  __attribute__((always_inline)) static Vec16 Load(const void* row, int64_t c) {
    typedef int8_t I8x16 __attribute__((vector_size(16), aligned(1)));  // Unaligned loads.
    typedef int32_t I32x16 __attribute__((vector_size(64)));
    const uint8_t* block = static_cast<const uint8_t*>(row) + (c / kQ8_0BlockSize) * kQ8_0BlockBytes;
    uint16_t scale_bits;
    std::memcpy(&scale_bits, block, 2);
    const I8x16 q = *reinterpret_cast<const I8x16*>(block + 2 + c % kQ8_0BlockSize);
    // Two widening steps (int8 -> int32 -> float) map to single instructions.
    return __builtin_convertvector(__builtin_convertvector(q, I32x16), Vec16) *
           kF16Table[scale_bits];
  }
  static float At(const void* row, int64_t c) {
    float value;
    const uint8_t* block = static_cast<const uint8_t*>(row) + (c / kQ8_0BlockSize) * kQ8_0BlockBytes;
    ConvertToF32(DType::kQ8_0, block, kQ8_0BlockSize, &value);  // Not reached: rows are % 32.
    return value;
  }
};

// y[n * y_stride + r] = dot(w[r], x[n]) for r < R, n < N: R weight rows against N inputs, all
// R * N accumulators in registers so each weight load feeds N multiply-adds.
template <typename Weights, int R, int N>
__attribute__((always_inline)) inline void Tile(const uint8_t* w, size_t row_bytes, const float* x,
                                                int64_t cols, float* y, int64_t y_stride) {
  Vec16 acc[R][N] = {};
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    Vec16 xv[N];
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) xv[n] = Load16(x + n * cols + c);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Vec16 wv = Weights::Load(w + r * row_bytes, c);
#pragma GCC unroll 4
      for (int n = 0; n < N; ++n) acc[r][n] += wv * xv[n];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int n = 0; n < N; ++n) {
      float sum = Sum16(acc[r][n]);
      for (int64_t k = c; k < cols; ++k) sum += Weights::At(w + r * row_bytes, k) * x[n * cols + k];
      y[n * y_stride + r] = sum;
    }
  }
}

// Rows [0, rows) of weights (row_bytes apart) against all inputs; y rows are y_stride apart.
template <typename Weights>
__attribute__((always_inline)) inline void Block(const uint8_t* w, size_t row_bytes, int64_t rows,
                                                 const float* x, int num_inputs, int64_t cols,
                                                 float* y, int64_t y_stride) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int n = 0;
    for (; n + 4 <= num_inputs; n += 4) {
      Tile<Weights, 4, 4>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                          y_stride);
    }
    for (; n < num_inputs; ++n) {
      Tile<Weights, 4, 1>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                          y_stride);
    }
  }
  for (; r < rows; ++r) {
    int n = 0;
    for (; n + 4 <= num_inputs; n += 4) {
      Tile<Weights, 1, 4>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                          y_stride);
    }
    for (; n < num_inputs; ++n) {
      Tile<Weights, 1, 1>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                          y_stride);
    }
  }
}

// q8_0 rows on AVX-512: 4 rows x 4 inputs per tile, each 32-value block widened with one
// sign-extension and one conversion per 16 values (GCC scalarises the generic int8 path).
// Same arithmetic as the generic path: w = q * scale, then fused multiply-adds in column order.
__attribute__((target("avx512f"), always_inline)) inline __m512 Q8_0Load(const uint8_t* row,
                                                                          int64_t c) {
  const uint8_t* block = row + (c / kQ8_0BlockSize) * kQ8_0BlockBytes;
  uint16_t scale_bits;
  std::memcpy(&scale_bits, block, 2);
  const __m128i q =
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + c % kQ8_0BlockSize));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)),
                       _mm512_set1_ps(kF16Table[scale_bits]));
}

template <int R, int N>
__attribute__((target("avx512f"), always_inline)) inline void Q8_0TileAvx512(
    const uint8_t* w, size_t row_bytes, const float* x, int64_t cols, float* y, int64_t y_stride) {
  __m512 acc[R][N];
  for (int r = 0; r < R; ++r) {
    for (int n = 0; n < N; ++n) acc[r][n] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < cols; c += 16) {
    __m512 xv[N];
    for (int n = 0; n < N; ++n) xv[n] = _mm512_loadu_ps(x + n * cols + c);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = Q8_0Load(w + r * row_bytes, c);
      for (int n = 0; n < N; ++n) acc[r][n] = _mm512_fmadd_ps(wv, xv[n], acc[r][n]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int n = 0; n < N; ++n) {
      float lanes[16];
      _mm512_storeu_ps(lanes, acc[r][n]);
      float sum = 0.f;
      for (int k = 0; k < 16; ++k) sum += lanes[k];
      y[n * y_stride + r] = sum;
    }
  }
}

__attribute__((target("avx512f"))) void Q8_0BlockAvx512(const uint8_t* w, size_t row_bytes,
                                                        int64_t rows, const float* x,
                                                        int num_inputs, int64_t cols, float* y,
                                                        int64_t y_stride) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int n = 0;
    for (; n + 4 <= num_inputs; n += 4) {
      Q8_0TileAvx512<4, 4>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                           y_stride);
    }
    for (; n < num_inputs; ++n) {
      Q8_0TileAvx512<4, 1>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                           y_stride);
    }
  }
  for (; r < rows; ++r) {
    for (int n = 0; n < num_inputs; ++n) {
      Q8_0TileAvx512<1, 1>(w + r * row_bytes, row_bytes, x + n * cols, cols, y + n * y_stride + r,
                           y_stride);
    }
  }
}

const bool kHasAvx512 = __builtin_cpu_supports("avx512f");

// q8_0 -> f32 for whole rows, 16 values per step: w = float(q) * scale, exactly the value the
// tile computes in registers, so both paths give identical products.
__attribute__((target("avx512f"))) void DequantizeQ8_0Avx512(const uint8_t* src, int64_t count,
                                                             float* dst) {
  for (int64_t c = 0; c < count; c += 16) _mm512_storeu_ps(dst + c, Q8_0Load(src, c));
}

// One clone per instruction set, picked at load time by the CPU's features.
__attribute__((target_clones("avx512f", "avx2", "default"))) void DTypeBlock(
    DType dtype, const uint8_t* w, size_t row_bytes, int64_t rows, const float* x, int num_inputs,
    int64_t cols, float* y, int64_t y_stride) {
  switch (dtype) {
    case DType::kBF16:
      Block<Bf16Weights>(w, row_bytes, rows, x, num_inputs, cols, y, y_stride);
      return;
    case DType::kQ8_0:
      if (kHasAvx512) {
        Q8_0BlockAvx512(w, row_bytes, rows, x, num_inputs, cols, y, y_stride);
      } else {
        Block<Q8_0Weights>(w, row_bytes, rows, x, num_inputs, cols, y, y_stride);
      }
      return;
    default:
      Block<F32Weights>(w, row_bytes, rows, x, num_inputs, cols, y, y_stride);
      return;
  }
}

// exp(x) for x in [-88, 88] by range reduction x = n ln2 + r and a degree-6 polynomial in r
// (Cephes expf coefficients); branch-free so loops over it vectorise.
__attribute__((always_inline)) inline float ExpApprox(float x) {
  x = std::min(88.0f, std::max(-88.0f, x));
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// tanh: an odd polynomial for |x| < 0.625 (Cephes tanhf), 1 - 2 / (exp(2|x|) + 1) beyond.
__attribute__((always_inline)) inline float TanhApprox(float x) {
  const float a = std::fabs(x);
  const float z = x * x;
  float small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const float large = std::copysign(1.0f - 2.0f / (ExpApprox(2.0f * a) + 1.0f), x);
  return a < 0.625f ? small : large;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void TanhLoop(const float* in,
                                                                          int64_t count,
                                                                          float* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = TanhApprox(in[i]);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) float DotLoop(const float* a,
                                                                         const float* b,
                                                                         int64_t count) {
  Vec16 acc = {};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) acc += Load16(a + i) * Load16(b + i);
  float sum = Sum16(acc);
  for (; i < count; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void AxpyLoop(float alpha,
                                                                          const float* x,
                                                                          int64_t count,
                                                                          float* y) {
  for (int64_t i = 0; i < count; ++i) y[i] += alpha * x[i];
}

}  // namespace

float Dot(const float* a, const float* b, int64_t count) { return DotLoop(a, b, count); }

void Axpy(float alpha, const float* x, int64_t count, float* y) { AxpyLoop(alpha, x, count, y); }

void Tanh(const float* in, int64_t count, float* out) { TanhLoop(in, count, out); }

void Softcap(float* x, int64_t count, float cap) {
  const float inverse = 1.0f / cap;
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for if (count >= 4 * kChunk) schedule(static)
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    float* chunk = x + start;
    for (int64_t i = 0; i < n; ++i) chunk[i] *= inverse;
    TanhLoop(chunk, n, chunk);
    for (int64_t i = 0; i < n; ++i) chunk[i] *= cap;
  }
}

void MatMulRows(const Matrix& w, int64_t row_begin, int64_t row_end, const float* x,
                int num_inputs, float* y) {
  const int64_t rows = row_end - row_begin;
  const int64_t cols = w.cols;
  constexpr int64_t kRowsPerTask = 16;
  const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const bool parallel = rows * cols * num_inputs >= 2 * kMinWorkPerThread;
  // f16 rows are widened to f32 first; so are q8_0 rows against many inputs (prefill), where one
  // widening serves them all; otherwise f32, bf16 and q8_0 are read as stored.
  const bool widen = w.dtype == DType::kF16 || w.dtype == DType::kI32 ||
                     w.dtype == DType::kI64 || (w.dtype == DType::kQ8_0 && num_inputs >= 8);
#pragma omp parallel if (parallel)
  {
    std::vector<float> converted(widen ? kRowsPerTask * cols : 0);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t first = task * kRowsPerTask;
      const int64_t count = std::min(kRowsPerTask, rows - first);
      if (widen) {
        if (w.dtype == DType::kQ8_0 && kHasAvx512) {
          DequantizeQ8_0Avx512(static_cast<const uint8_t*>(w.row(row_begin + first)),
                               count * cols, converted.data());
        } else {
          ConvertToF32(w.dtype, w.row(row_begin + first), count * cols, converted.data());
        }
        DTypeBlock(DType::kF32, reinterpret_cast<const uint8_t*>(converted.data()),
                   cols * sizeof(float), count, x, num_inputs, cols, y + first, rows);
      } else {
        DTypeBlock(w.dtype, static_cast<const uint8_t*>(w.row(row_begin + first)), w.row_bytes(),
                   count, x, num_inputs, cols, y + first, rows);
      }
    }
  }
}

void MatMul(const Matrix& w, const float* x, int num_inputs, float* y) {
  MatMulRows(w, 0, w.rows, x, num_inputs, y);
}

void RmsNorm(const float* x, const float* weight, int rows, int dim, float eps, float* y) {
  for (int r = 0; r < rows; ++r) {
    const float* in = x + static_cast<int64_t>(r) * dim;
    float* out = y + static_cast<int64_t>(r) * dim;
    double sum = 0;
    for (int i = 0; i < dim; ++i) sum += static_cast<double>(in[i]) * in[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum / dim + eps));
    for (int i = 0; i < dim; ++i) out[i] = in[i] * scale * (weight != nullptr ? weight[i] : 1.f);
  }
}

void LayerNorm(const float* x, const float* weight, const float* bias, int rows, int dim,
               float eps, float* y) {
  for (int r = 0; r < rows; ++r) {
    const float* in = x + static_cast<int64_t>(r) * dim;
    float* out = y + static_cast<int64_t>(r) * dim;
    double sum = 0;
    for (int i = 0; i < dim; ++i) sum += in[i];
    const double mean = sum / dim;
    double squares = 0;
    for (int i = 0; i < dim; ++i) squares += (in[i] - mean) * (in[i] - mean);
    const float scale = static_cast<float>(1.0 / std::sqrt(squares / dim + eps));
    const float center = static_cast<float>(mean);
    for (int i = 0; i < dim; ++i) out[i] = (in[i] - center) * scale * weight[i] + bias[i];
  }
}

void ApplyRope(float* x, int heads, int head_dim, int rotated_pairs, const float* inv_freq,
               int position) {
  const int half = head_dim / 2;
  for (int i = 0; i < rotated_pairs; ++i) {
    const float angle = static_cast<float>(position) * inv_freq[i];
    const float c = std::cos(angle), s = std::sin(angle);
    for (int h = 0; h < heads; ++h) {
      float* v = x + static_cast<int64_t>(h) * head_dim;
      const float x0 = v[i], x1 = v[i + half];
      v[i] = x0 * c - x1 * s;
      v[i + half] = x1 * c + x0 * s;
    }
  }
}

void GeluGate(const float* gate, const float* up, int64_t count, Gelu gelu, float* out) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  constexpr float kCoefficient = 0.044715f;
  if (gelu == Gelu::kTanh) {
    constexpr int64_t kChunk = 1024;
    float inner[kChunk];
    for (int64_t start = 0; start < count; start += kChunk) {
      const int64_t n = std::min(kChunk, count - start);
      for (int64_t i = 0; i < n; ++i) {
        const float g = gate[start + i];
        inner[i] = kSqrt2OverPi * (g + kCoefficient * g * g * g);
      }
      TanhLoop(inner, n, inner);
      for (int64_t i = 0; i < n; ++i) {
        out[start + i] = 0.5f * gate[start + i] * (1.0f + inner[i]) * up[start + i];
      }
    }
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    float g = gate[i];
    float activated;
    if (gelu == Gelu::kLlamaCppF16) {
      if (g <= -10.f) {
        activated = 0.f;
      } else if (g >= 10.f) {
        activated = g;
      } else {
        g = RoundToF16(g);
        activated =
            RoundToF16(0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * g * (1.0f + kCoefficient * g * g))));
      }
    } else {
      activated = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + kCoefficient * g * g * g)));
    }
    out[i] = activated * up[i];
  }
}

void Softmax(float* x, int count) {
  float max = x[0];
  for (int i = 1; i < count; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int i = 0; i < count; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inverse = static_cast<float>(1.0 / sum);
  for (int i = 0; i < count; ++i) x[i] *= inverse;
}

}  // namespace gemma::cpu
