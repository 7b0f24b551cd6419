#include "engine/cpu/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace gemma::cpu {
namespace {

// Rows of at least this many multiply-adds per thread are worth parallelising.
constexpr int64_t kMinWorkPerThread = 1 << 15;

float Dot(const float* a, const float* b, int64_t n) {
  // Eight independent accumulators let the compiler vectorise without -ffast-math.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void MatMulRows(const Matrix& w, int64_t row_begin, int64_t row_end, const float* x,
                int num_inputs, float* y) {
  const int64_t rows = row_end - row_begin;
  const int64_t cols = w.cols;
  const bool parallel = rows * cols * num_inputs >= 2 * kMinWorkPerThread;
#pragma omp parallel if (parallel)
  {
    std::vector<float> converted(w.dtype == DType::kF32 ? 0 : cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* row;
      if (w.dtype == DType::kF32) {
        row = static_cast<const float*>(w.row(row_begin + r));
      } else {
        ConvertToF32(w.dtype, w.row(row_begin + r), cols, converted.data());
        row = converted.data();
      }
      for (int n = 0; n < num_inputs; ++n) y[n * rows + r] = Dot(row, x + n * cols, cols);
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
