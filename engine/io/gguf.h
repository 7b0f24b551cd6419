// GGUF (llama.cpp's checkpoint format, version 2 and 3), read through a memory map.
//
// Layout (little-endian): "GGUF" u32 version, i64 tensor_count, i64 kv_count; kv_count entries of
// {string key, u32 type, value}; tensor_count infos of {string name, u32 n_dims, i64 ne[n_dims]
// (innermost first), u32 ggml_type, u64 offset}; padding to `general.alignment` (default 32);
// the data section, where each tensor starts at data_start + offset (offset aligned).
// Strings are {u64 length, bytes}; arrays are {u32 element_type, u64 count, elements}.
// Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array, 10 u64,
// 11 i64, 12 f64. Tensor types read here: 0 F32, 1 F16, 8 Q8_0, 30 BF16, 26 I32, 27 I64.
//
// Every length and offset is checked against the file; errors name the key, tensor or offset.
// Thread-compatible (const methods are safe to call concurrently).
#ifndef GEMMA_ENGINE_IO_GGUF_H_
#define GEMMA_ENGINE_IO_GGUF_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/io/mapped_file.h"
#include "engine/io/tensor_view.h"

namespace gemma {

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// One metadata value; scalars are arrays of one element with is_array false. Integers and bools
// are held as int64 (u64 bit patterns preserved), floats as double.
struct GgufValue {
  GgufType type = GgufType::kU32;  // The element type.
  bool is_array = false;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static GgufValue String(std::string value);
  static GgufValue U32(uint32_t value);
  static GgufValue F32(float value);
  static GgufValue Bool(bool value);
  static GgufValue I32Array(const std::vector<int32_t>& values);
  static GgufValue BoolArray(const std::vector<bool>& values);
  static GgufValue StringArray(std::vector<std::string> values);
  static GgufValue F32Array(const std::vector<float>& values);

  size_t size() const;  // Elements.
  bool is_integer() const;
  bool is_float() const { return type == GgufType::kF32 || type == GgufType::kF64; }
};

class GgufFile {
 public:
  static absl::StatusOr<GgufFile> Open(const std::string& path);

  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }

  const GgufValue* Find(const std::string& key) const;
  const TensorView* FindTensor(const std::string& name) const;

  // Typed lookups; NOT_FOUND when absent, INVALID_ARGUMENT when the type does not fit.
  absl::StatusOr<int64_t> GetInt(const std::string& key) const;
  absl::StatusOr<double> GetFloat(const std::string& key) const;
  absl::StatusOr<std::string> GetString(const std::string& key) const;
  // A scalar integer repeated `count` times, or an integer/bool array of exactly `count`.
  absl::StatusOr<std::vector<int64_t>> GetIntsPerLayer(const std::string& key, int count) const;

  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_IO_GGUF_H_
