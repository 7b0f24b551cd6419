#include "engine/dtype.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace gemma {
namespace {

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to even (1.0).
  EXPECT_EQ(RoundToBf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  EXPECT_EQ(RoundToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.015625f);
  // sqrt(3840) = 61.97 rounds to 62 in bf16 (the 12B's embedding scale).
  EXPECT_EQ(RoundToBf16(std::sqrt(3840.0f)), 62.0f);
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DTypeTest, F16KnownValues) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // Overflow to inf.
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);  // Smallest subnormal.
  EXPECT_EQ(F32ToF16(0.1f), 0x2e66);
  EXPECT_EQ(F16ToF32(0x2e66), 0.0999755859375f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToF32(0x7c00), std::numeric_limits<float>::infinity());
}

TEST(DTypeTest, F16RoundTripsEveryFiniteHalf) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7c00) == 0x7c00) continue;  // inf / NaN
    ASSERT_EQ(F32ToF16(F16ToF32(bits)), bits) << bits;
  }
}

TEST(DTypeTest, Q8_0RoundTripWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(128);
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> q(DTypeBytes(DType::kQ8_0, x.size()));
  ASSERT_EQ(q.size(), 4u * 34);
  QuantizeQ8_0(x.data(), x.size(), q.data());
  std::vector<float> y(x.size());
  ConvertToF32(DType::kQ8_0, q.data(), x.size(), y.data());
  for (int b = 0; b < 4; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const float step = amax / 127;
    for (int i = 0; i < 32; ++i) EXPECT_NEAR(y[b * 32 + i], x[b * 32 + i], 0.51f * step + 1e-3f * step);
  }
}

}  // namespace
}  // namespace gemma
