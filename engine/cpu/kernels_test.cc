#include "engine/cpu/kernels.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace gemma::cpu {
namespace {

std::vector<float> Random(int64_t n, uint64_t seed, float std = 1.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.f, std);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> Encode(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(DTypeBytes(dtype, values.size()));
  if (dtype == DType::kF32) {
    std::memcpy(bytes.data(), values.data(), bytes.size());
  } else if (dtype == DType::kQ8_0) {
    QuantizeQ8_0(values.data(), values.size(), bytes.data());
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t bits = dtype == DType::kBF16 ? F32ToBf16(values[i]) : F32ToF16(values[i]);
      std::memcpy(&bytes[2 * i], &bits, 2);
    }
  }
  return bytes;
}

class MatMulTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatMulTest, MatchesNaiveDoubleProductOfTheStoredValues) {
  const DType dtype = GetParam();
  const int rows = 97, cols = 256, inputs = 5;
  std::vector<float> w = Random(int64_t{rows} * cols, 1, 0.1f);
  std::vector<uint8_t> stored = Encode(w, dtype);
  std::vector<float> decoded(w.size());
  ConvertToF32(dtype, stored.data(), w.size(), decoded.data());
  std::vector<float> x = Random(int64_t{inputs} * cols, 2);
  std::vector<float> y(int64_t{inputs} * rows);
  MatMul(Matrix{dtype, rows, cols, stored.data()}, x.data(), inputs, y.data());
  for (int n = 0; n < inputs; ++n) {
    for (int r = 0; r < rows; ++r) {
      double expected = 0;
      for (int c = 0; c < cols; ++c) expected += double(decoded[r * cols + c]) * x[n * cols + c];
      ASSERT_NEAR(y[n * rows + r], expected, 1e-4 * (1 + std::fabs(expected))) << n << "," << r;
    }
  }
  // A row range gives the same numbers as the matching slice of the full product.
  std::vector<float> part(int64_t{inputs} * 10);
  MatMulRows(Matrix{dtype, rows, cols, stored.data()}, 40, 50, x.data(), inputs, part.data());
  for (int n = 0; n < inputs; ++n) {
    for (int r = 0; r < 10; ++r) EXPECT_EQ(part[n * 10 + r], y[n * rows + 40 + r]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatMulTest,
                         ::testing::Values(DType::kF32, DType::kBF16, DType::kF16, DType::kQ8_0),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(KernelsTest, RmsNormUsesWeightAsIsAndEpsInsideTheMean) {
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 0.5f, 2, 0}, y(4);
  RmsNorm(x.data(), w.data(), 1, 4, 1e-6f, y.data());
  const double scale = 1 / std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
  EXPECT_NEAR(y[0], 1 * scale * 1, 1e-6);
  EXPECT_NEAR(y[1], 2 * scale * 0.5, 1e-6);
  EXPECT_NEAR(y[2], 3 * scale * 2, 1e-6);
  EXPECT_EQ(y[3], 0.f);
  RmsNorm(x.data(), nullptr, 2, 2, 0.f, y.data());  // Weightless, two rows of two.
  EXPECT_NEAR(y[0], 1 / std::sqrt(2.5), 1e-6);
  EXPECT_NEAR(y[3], 4 / std::sqrt(12.5), 1e-6);
}

TEST(KernelsTest, RopeRotatesHalfSplitPairsAndLeavesTheRestAlone) {
  const int d = 8;
  std::vector<float> x = Random(2 * d, 3), original = x;
  const float inv_freq[2] = {1.0f, 0.1f};  // Only pairs 0 and 1 rotate; pairs 2 and 3 pass.
  ApplyRope(x.data(), 2, d, 2, inv_freq, 5);
  for (int h = 0; h < 2; ++h) {
    const float* in = &original[h * d];
    const float* out = &x[h * d];
    for (int i = 0; i < 2; ++i) {
      const double angle = 5.0 * inv_freq[i];
      EXPECT_NEAR(out[i], in[i] * std::cos(angle) - in[i + 4] * std::sin(angle), 1e-5);
      EXPECT_NEAR(out[i + 4], in[i + 4] * std::cos(angle) + in[i] * std::sin(angle), 1e-5);
    }
    for (int i : {2, 3, 6, 7}) EXPECT_EQ(out[i], in[i]);
  }
  std::vector<float> at_zero = original;
  ApplyRope(at_zero.data(), 2, d, 2, inv_freq, 0);
  EXPECT_EQ(at_zero, original);
}

TEST(KernelsTest, GeluTanhMatchesTheFormulaAndTheTableVariantRoundsToF16) {
  const std::vector<float> g = {-12.f, -3.f, -0.5f, 0.f, 0.7f, 2.5f, 11.f};
  const std::vector<float> up(g.size(), 2.f);
  std::vector<float> exact(g.size()), table(g.size());
  GeluGate(g.data(), up.data(), g.size(), Gelu::kTanh, exact.data());
  GeluGate(g.data(), up.data(), g.size(), Gelu::kLlamaCppF16, table.data());
  for (size_t i = 0; i < g.size(); ++i) {
    const double x = g[i];
    const double reference = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(exact[i], 2 * reference, 1e-5) << x;
    EXPECT_NEAR(table[i], 2 * reference, 2e-3 * (1 + std::fabs(reference))) << x;
    if (std::fabs(x) < 10) EXPECT_EQ(table[i] / 2, RoundToF16(table[i] / 2)) << x;
  }
  EXPECT_EQ(table[0], 0.f);   // x <= -10
  EXPECT_EQ(table.back(), 22.f);  // x >= 10: gelu(x) = x.
}

TEST(KernelsTest, SoftmaxIsStableAndNormalised) {
  std::vector<float> x = {1000.f, 1001.f, 999.f};
  Softmax(x.data(), 3);
  const double e0 = std::exp(-1.0), e2 = std::exp(-2.0), sum = e0 + 1 + e2;
  EXPECT_NEAR(x[0], e0 / sum, 1e-6);
  EXPECT_NEAR(x[1], 1 / sum, 1e-6);
  EXPECT_NEAR(x[2], e2 / sum, 1e-6);
}

}  // namespace
}  // namespace gemma::cpu

namespace gemma::cpu {
namespace {

TEST(KernelsTest, TanhIsWithinTwoUlpOfLibm) {
  std::vector<float> x;
  for (float v = -20.f; v <= 20.f; v += 0.001f) x.push_back(v);
  for (float v : {0.f, -0.f, 1e-8f, -1e-8f, 0.6249f, 0.625f, 88.f, -100.f}) x.push_back(v);
  std::vector<float> y(x.size());
  Tanh(x.data(), x.size(), y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = std::tanh(static_cast<double>(x[i]));
    const double ulp =
        std::max<double>(std::fabs(std::nextafter(float(expected), 2.f) - float(expected)), 1e-45);
    ASSERT_LE(std::fabs(y[i] - expected), 2 * ulp + 1e-7 * std::fabs(expected)) << x[i];
  }
  std::vector<float> logits = {0.f, 15.f, -300.f};
  Softcap(logits.data(), 3, 30.f);
  EXPECT_EQ(logits[0], 0.f);
  EXPECT_NEAR(logits[1], 30 * std::tanh(0.5), 1e-5);
  EXPECT_NEAR(logits[2], -30 * std::tanh(10.0), 1e-5);
}

}  // namespace
}  // namespace gemma::cpu

namespace gemma::cpu {
namespace {

// Decode (one input) and prefill (many inputs) take different routes through the kernels for
// the same weights; each input's products must come out bit for bit the same either way, or
// KV-cached decoding would drift from a recompute.
class BatchInvarianceTest : public ::testing::TestWithParam<DType> {};

TEST_P(BatchInvarianceTest, OneInputAtATimeEqualsABatch) {
  const DType dtype = GetParam();
  const int rows = 70, cols = 320, inputs = 11;
  std::vector<uint8_t> stored = Encode(Random(int64_t{rows} * cols, 7, 0.1f), dtype);
  const Matrix w{dtype, rows, cols, stored.data()};
  std::vector<float> x = Random(int64_t{inputs} * cols, 8);
  std::vector<float> batched(int64_t{inputs} * rows);
  MatMul(w, x.data(), inputs, batched.data());
  for (int n = 0; n < inputs; ++n) {
    std::vector<float> single(rows);
    MatMul(w, x.data() + n * cols, 1, single.data());
    for (int r = 0; r < rows; ++r) ASSERT_EQ(single[r], batched[n * rows + r]) << n << "," << r;
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, BatchInvarianceTest,
                         ::testing::Values(DType::kF32, DType::kBF16, DType::kF16, DType::kQ8_0),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace gemma::cpu
