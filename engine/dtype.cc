#include "engine/dtype.h"

#include <algorithm>
#include <cmath>

namespace gemma {

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kQ8_0: return "q8_0";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
  }
  return "?";
}

size_t DTypeBytes(DType dtype, int64_t count) {
  switch (dtype) {
    case DType::kF32:
    case DType::kI32: return 4 * count;
    case DType::kF16:
    case DType::kBF16: return 2 * count;
    case DType::kI64: return 8 * count;
    case DType::kQ8_0: return count / kQ8_0BlockSize * kQ8_0BlockBytes;
  }
  return 0;
}

float F16ToF32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t word;
  if (exponent == 0) {
    if (mantissa == 0) {
      word = sign;
    } else {  // Subnormal: normalise.
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      word = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 0x1f) {
    word = sign | 0x7f800000u | (mantissa << 13);
  } else {
    word = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

uint16_t F32ToF16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  const uint16_t sign = static_cast<uint16_t>((word >> 16) & 0x8000u);
  const uint32_t abs = word & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // Rounds to >= 65520: inf.
  if (abs < 0x38800000u) {                        // Below the smallest normal f16: subnormal.
    // value = m * 2^-24 with m rounded to nearest even.
    float magnitude;
    std::memcpy(&magnitude, &abs, sizeof(magnitude));
    float scaled = magnitude * 16777216.0f;  // * 2^24, exact.
    uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return sign | static_cast<uint16_t>(m);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  return sign | static_cast<uint16_t>(((rounded >> 13) - ((127 - 15) << 10)) & 0x7fffu);
}

void ConvertToF32(DType dtype, const void* src, int64_t count, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, 4 * count);
      return;
    case DType::kF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = F16ToF32(in[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = Bf16ToF32(in[i]);
      return;
    }
    case DType::kQ8_0: {
      const uint8_t* block = static_cast<const uint8_t*>(src);
      for (int64_t b = 0; b < count / kQ8_0BlockSize; ++b, block += kQ8_0BlockBytes) {
        uint16_t d_bits;
        std::memcpy(&d_bits, block, 2);
        const float d = F16ToF32(d_bits);
        const int8_t* q = reinterpret_cast<const int8_t*>(block + 2);
        for (int i = 0; i < kQ8_0BlockSize; ++i) dst[b * kQ8_0BlockSize + i] = d * q[i];
      }
      return;
    }
    case DType::kI32: {
      const int32_t* in = static_cast<const int32_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(in[i]);
      return;
    }
    case DType::kI64: {
      const int64_t* in = static_cast<const int64_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(in[i]);
      return;
    }
  }
}

void QuantizeQ8_0(const float* src, int64_t count, void* dst) {
  uint8_t* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < count / kQ8_0BlockSize; ++b, block += kQ8_0BlockBytes) {
    const float* x = src + b * kQ8_0BlockSize;
    float amax = 0.f;
    for (int i = 0; i < kQ8_0BlockSize; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f;
    const float inverse = d != 0.f ? 1.f / d : 0.f;
    const uint16_t d_bits = F32ToF16(d);
    std::memcpy(block, &d_bits, 2);
    int8_t* q = reinterpret_cast<int8_t*>(block + 2);
    for (int i = 0; i < kQ8_0BlockSize; ++i) {
      q[i] = static_cast<int8_t>(std::lround(x[i] * inverse));
    }
  }
}

}  // namespace gemma
