// Element types of checkpoint tensors and the conversions between them.
//
// bf16: the top 16 bits of an IEEE f32 (round-to-nearest-even when narrowing). f16: IEEE half.
// q8_0: blocks of 32 values, each block an f16 scale d followed by 32 int8 q; value = d * q
// (GGUF/llama.cpp layout, 34 bytes per block).
#ifndef GEMMA_ENGINE_DTYPE_H_
#define GEMMA_ENGINE_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace gemma {

enum class DType { kF32, kF16, kBF16, kQ8_0, kI32, kI64 };

const char* DTypeName(DType dtype);

constexpr int kQ8_0BlockSize = 32;
constexpr int kQ8_0BlockBytes = 34;

// Bytes taken by `count` elements; for kQ8_0, count must be a multiple of 32.
size_t DTypeBytes(DType dtype, int64_t count);

inline float Bf16ToF32(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

inline uint16_t F32ToBf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if ((word & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((word >> 16) | 0x40);  // NaN
  word += 0x7fffu + ((word >> 16) & 1u);  // Round to nearest even.
  return static_cast<uint16_t>(word >> 16);
}

// Rounds through bf16 (what casting an f32 to a bf16 tensor does).
inline float RoundToBf16(float value) { return Bf16ToF32(F32ToBf16(value)); }

float F16ToF32(uint16_t bits);
uint16_t F32ToF16(float value);  // Round to nearest even; overflow to inf.
inline float RoundToF16(float value) { return F16ToF32(F32ToF16(value)); }

// Converts `count` elements of `dtype` at `src` to f32.
void ConvertToF32(DType dtype, const void* src, int64_t count, float* dst);

// Quantizes `count` f32 values (a multiple of 32) into q8_0 blocks at `dst`: d = max|x| / 127,
// q = round(x / d).
void QuantizeQ8_0(const float* src, int64_t count, void* dst);

}  // namespace gemma

#endif  // GEMMA_ENGINE_DTYPE_H_
