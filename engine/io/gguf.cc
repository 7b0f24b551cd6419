#include "engine/io/gguf.h"

#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint64_t kMaxStringBytes = 1 << 24;
constexpr uint64_t kMaxArrayElements = 1 << 26;
constexpr int kMaxDims = 4;

// Bounds-checked sequential reader over the mapped bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t offset() const { return offset_; }

  template <typename T>
  absl::Status Read(T* out, const char* what) {
    if (size_ - offset_ < sizeof(T)) return Truncated(what);
    std::memcpy(out, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string* out, const char* what) {
    uint64_t length;
    absl::Status status = Read(&length, what);
    if (!status.ok()) return status;
    if (length > kMaxStringBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF ", what, " at offset ", offset_ - 8, ": string length ", length,
                       " is implausible (corrupt file?)"));
    }
    if (size_ - offset_ < length) return Truncated(what);
    out->assign(reinterpret_cast<const char*>(data_ + offset_), length);
    offset_ += length;
    return absl::OkStatus();
  }

 private:
  absl::Status Truncated(const char* what) const {
    return absl::DataLossError(
        absl::StrCat("GGUF truncated while reading ", what, " at offset ", offset_));
  }

  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

absl::Status ReadElement(Cursor& cursor, GgufType type, GgufValue* value, const std::string& key) {
  const char* what = "metadata value";
  switch (type) {
#define GEMMA_GGUF_INT(kind, ctype)                                      \
  case GgufType::kind: {                                                 \
    ctype v;                                                             \
    absl::Status s = cursor.Read(&v, what);                              \
    if (!s.ok()) return s;                                               \
    value->ints.push_back(static_cast<int64_t>(v));                      \
    return absl::OkStatus();                                             \
  }
    GEMMA_GGUF_INT(kU8, uint8_t)
    GEMMA_GGUF_INT(kI8, int8_t)
    GEMMA_GGUF_INT(kU16, uint16_t)
    GEMMA_GGUF_INT(kI16, int16_t)
    GEMMA_GGUF_INT(kU32, uint32_t)
    GEMMA_GGUF_INT(kI32, int32_t)
    GEMMA_GGUF_INT(kU64, uint64_t)
    GEMMA_GGUF_INT(kI64, int64_t)
    GEMMA_GGUF_INT(kBool, uint8_t)
#undef GEMMA_GGUF_INT
    case GgufType::kF32: {
      float v;
      absl::Status s = cursor.Read(&v, what);
      if (!s.ok()) return s;
      value->floats.push_back(v);
      return absl::OkStatus();
    }
    case GgufType::kF64: {
      double v;
      absl::Status s = cursor.Read(&v, what);
      if (!s.ok()) return s;
      value->floats.push_back(v);
      return absl::OkStatus();
    }
    case GgufType::kString: {
      std::string v;
      absl::Status s = cursor.ReadString(&v, what);
      if (!s.ok()) return s;
      value->strings.push_back(std::move(v));
      return absl::OkStatus();
    }
    case GgufType::kArray:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, ": unknown value type ",
                                                 static_cast<uint32_t>(type)));
}

bool KnownType(uint32_t type) { return type <= static_cast<uint32_t>(GgufType::kF64); }

absl::StatusOr<DType> TensorDType(uint32_t ggml_type, const std::string& name) {
  switch (ggml_type) {
    case 0: return DType::kF32;
    case 1: return DType::kF16;
    case 8: return DType::kQ8_0;
    case 30: return DType::kBF16;
    case 26: return DType::kI32;
    case 27: return DType::kI64;
  }
  return absl::UnimplementedError(absl::StrCat(
      "GGUF tensor ", name, ": ggml type ", ggml_type,
      " is not supported (supported: F32, F16, BF16, Q8_0, I32, I64)"));
}

}  // namespace

GgufValue GgufValue::String(std::string value) {
  GgufValue v;
  v.type = GgufType::kString;
  v.strings.push_back(std::move(value));
  return v;
}

GgufValue GgufValue::U32(uint32_t value) {
  GgufValue v;
  v.type = GgufType::kU32;
  v.ints.push_back(value);
  return v;
}

GgufValue GgufValue::F32(float value) {
  GgufValue v;
  v.type = GgufType::kF32;
  v.floats.push_back(value);
  return v;
}

GgufValue GgufValue::Bool(bool value) {
  GgufValue v;
  v.type = GgufType::kBool;
  v.ints.push_back(value ? 1 : 0);
  return v;
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& values) {
  GgufValue v;
  v.type = GgufType::kI32;
  v.is_array = true;
  v.ints.assign(values.begin(), values.end());
  return v;
}

GgufValue GgufValue::BoolArray(const std::vector<bool>& values) {
  GgufValue v;
  v.type = GgufType::kBool;
  v.is_array = true;
  for (bool b : values) v.ints.push_back(b ? 1 : 0);
  return v;
}

GgufValue GgufValue::StringArray(std::vector<std::string> values) {
  GgufValue v;
  v.type = GgufType::kString;
  v.is_array = true;
  v.strings = std::move(values);
  return v;
}

GgufValue GgufValue::F32Array(const std::vector<float>& values) {
  GgufValue v;
  v.type = GgufType::kF32;
  v.is_array = true;
  v.floats.assign(values.begin(), values.end());
  return v;
}

size_t GgufValue::size() const { return ints.size() + floats.size() + strings.size(); }

bool GgufValue::is_integer() const {
  return type != GgufType::kF32 && type != GgufType::kF64 && type != GgufType::kString &&
         type != GgufType::kArray;
}

absl::StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  GgufFile gguf;
  gguf.file_ = std::move(*mapped);
  Cursor cursor(gguf.file_.data(), gguf.file_.size());
  auto prefix = [&path]() { return absl::StrCat(path, ": "); };

  uint32_t magic;
  absl::Status s = cursor.Read(&magic, "magic");
  if (!s.ok() || magic != kMagic) {
    return absl::InvalidArgumentError(absl::StrCat(prefix(), "not a GGUF file (bad magic)"));
  }
  s = cursor.Read(&gguf.version_, "version");
  if (!s.ok()) return s;
  if (gguf.version_ != 2 && gguf.version_ != 3) {
    return absl::UnimplementedError(
        absl::StrCat(prefix(), "GGUF version ", gguf.version_, " is not supported (2, 3)"));
  }
  int64_t tensor_count, kv_count;
  if (!(s = cursor.Read(&tensor_count, "tensor count")).ok()) return s;
  if (!(s = cursor.Read(&kv_count, "metadata count")).ok()) return s;
  if (tensor_count < 0 || kv_count < 0 || tensor_count > (1 << 20) || kv_count > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(prefix(), "implausible counts: ", tensor_count,
                                                   " tensors, ", kv_count, " metadata entries"));
  }

  for (int64_t i = 0; i < kv_count; ++i) {
    std::string key;
    if (!(s = cursor.ReadString(&key, "metadata key")).ok()) return s;
    uint32_t type;
    if (!(s = cursor.Read(&type, "metadata type")).ok()) return s;
    GgufValue value;
    if (type == static_cast<uint32_t>(GgufType::kArray)) {
      uint32_t element_type;
      uint64_t count;
      if (!(s = cursor.Read(&element_type, "array type")).ok()) return s;
      if (!(s = cursor.Read(&count, "array length")).ok()) return s;
      if (!KnownType(element_type) || element_type == static_cast<uint32_t>(GgufType::kArray) ||
          count > kMaxArrayElements) {
        return absl::InvalidArgumentError(absl::StrCat(prefix(), "metadata key ", key,
                                                       ": bad array (type ", element_type,
                                                       ", length ", count, ")"));
      }
      value.is_array = true;
      value.type = static_cast<GgufType>(element_type);
      for (uint64_t e = 0; e < count; ++e) {
        if (!(s = ReadElement(cursor, value.type, &value, key)).ok()) return s;
      }
    } else {
      if (!KnownType(type)) {
        return absl::InvalidArgumentError(
            absl::StrCat(prefix(), "metadata key ", key, ": unknown value type ", type));
      }
      value.type = static_cast<GgufType>(type);
      if (!(s = ReadElement(cursor, value.type, &value, key)).ok()) return s;
    }
    gguf.metadata_[key] = std::move(value);
  }

  uint64_t alignment = 32;
  if (const GgufValue* a = gguf.Find("general.alignment"); a != nullptr) {
    if (!a->is_integer() || a->ints.size() != 1 || a->ints[0] <= 0 || (a->ints[0] & 7) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(prefix(), "bad general.alignment"));
    }
    alignment = static_cast<uint64_t>(a->ints[0]);
  }

  struct Info {
    uint64_t offset;
  };
  std::vector<Info> infos;
  for (int64_t i = 0; i < tensor_count; ++i) {
    TensorView tensor;
    if (!(s = cursor.ReadString(&tensor.name, "tensor name")).ok()) return s;
    uint32_t n_dims;
    if (!(s = cursor.Read(&n_dims, "tensor rank")).ok()) return s;
    if (n_dims == 0 || n_dims > kMaxDims) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix(), "tensor ", tensor.name, ": rank ", n_dims, " out of range"));
    }
    std::vector<int64_t> ne(n_dims);
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      if (!(s = cursor.Read(&ne[d], "tensor dimension")).ok()) return s;
      if (ne[d] <= 0 || ne[d] > (int64_t{1} << 40) / elements) {
        return absl::InvalidArgumentError(absl::StrCat(prefix(), "tensor ", tensor.name,
                                                       ": bad dimension ", ne[d]));
      }
      elements *= ne[d];
    }
    tensor.shape.assign(ne.rbegin(), ne.rend());  // GGUF is innermost first.
    uint32_t ggml_type;
    if (!(s = cursor.Read(&ggml_type, "tensor type")).ok()) return s;
    absl::StatusOr<DType> dtype = TensorDType(ggml_type, tensor.name);
    if (!dtype.ok()) return dtype.status();
    tensor.dtype = *dtype;
    if (tensor.dtype == DType::kQ8_0 && ne[0] % kQ8_0BlockSize != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix(), "tensor ", tensor.name, ": q8_0 rows must be a multiple of 32, got ", ne[0]));
    }
    tensor.bytes = DTypeBytes(tensor.dtype, elements);
    uint64_t offset;
    if (!(s = cursor.Read(&offset, "tensor offset")).ok()) return s;
    if (offset % alignment != 0) {
      return absl::InvalidArgumentError(absl::StrCat(prefix(), "tensor ", tensor.name,
                                                     ": offset ", offset, " is not aligned"));
    }
    if (gguf.tensor_index_.count(tensor.name) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix(), "tensor ", tensor.name, " appears twice"));
    }
    gguf.tensor_index_[tensor.name] = gguf.tensors_.size();
    gguf.tensors_.push_back(std::move(tensor));
    infos.push_back({offset});
  }

  const uint64_t data_start = (cursor.offset() + alignment - 1) / alignment * alignment;
  for (size_t i = 0; i < gguf.tensors_.size(); ++i) {
    TensorView& tensor = gguf.tensors_[i];
    const uint64_t begin = data_start + infos[i].offset;
    if (begin > gguf.file_.size() || gguf.file_.size() - begin < tensor.bytes) {
      return absl::DataLossError(absl::StrCat(prefix(), "tensor ", tensor.name, " (",
                                              tensor.bytes, " bytes at offset ", begin,
                                              ") extends past the end of the file (",
                                              gguf.file_.size(), " bytes): truncated?"));
    }
    tensor.data = gguf.file_.data() + begin;
  }
  return gguf;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorView* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<int64_t> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat("GGUF key ", key, " is missing"));
  if (v->is_array || !v->is_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " is not an integer"));
  }
  return v->ints[0];
}

absl::StatusOr<double> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat("GGUF key ", key, " is missing"));
  if (v->is_array) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " is an array"));
  }
  if (v->is_float()) return v->floats[0];
  if (v->is_integer()) return static_cast<double>(v->ints[0]);
  return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " is not a number"));
}

absl::StatusOr<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat("GGUF key ", key, " is missing"));
  if (v->is_array || v->type != GgufType::kString) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " is not a string"));
  }
  return v->strings[0];
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetIntsPerLayer(const std::string& key,
                                                              int count) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat("GGUF key ", key, " is missing"));
  if (!v->is_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " is not integer"));
  }
  if (!v->is_array) return std::vector<int64_t>(count, v->ints[0]);
  if (static_cast<int>(v->ints.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF key ", key, " has ", v->ints.size(),
                                                   " entries, expected ", count));
  }
  return v->ints;
}

}  // namespace gemma
