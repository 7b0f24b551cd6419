#include "engine/io/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

constexpr uint64_t kAlignment = 32;

uint32_t GgmlType(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ8_0: return 8;
    case DType::kBF16: return 30;
    case DType::kI32: return 26;
    case DType::kI64: return 27;
  }
  return 0;
}

class Buffer {
 public:
  template <typename T>
  void Put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void PadTo(uint64_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void PutElement(Buffer& out, const GgufValue& value, size_t i) {
  switch (value.type) {
    case GgufType::kU8: out.Put<uint8_t>(value.ints[i]); break;
    case GgufType::kI8: out.Put<int8_t>(value.ints[i]); break;
    case GgufType::kU16: out.Put<uint16_t>(value.ints[i]); break;
    case GgufType::kI16: out.Put<int16_t>(value.ints[i]); break;
    case GgufType::kU32: out.Put<uint32_t>(value.ints[i]); break;
    case GgufType::kI32: out.Put<int32_t>(value.ints[i]); break;
    case GgufType::kU64: out.Put<uint64_t>(value.ints[i]); break;
    case GgufType::kI64: out.Put<int64_t>(value.ints[i]); break;
    case GgufType::kBool: out.Put<uint8_t>(value.ints[i] != 0); break;
    case GgufType::kF32: out.Put<float>(static_cast<float>(value.floats[i])); break;
    case GgufType::kF64: out.Put<double>(value.floats[i]); break;
    case GgufType::kString: out.PutString(value.strings[i]); break;
    case GgufType::kArray: break;
  }
}

}  // namespace

void GgufWriter::SetMetadata(const std::string& key, GgufValue value) {
  for (auto& entry : metadata_) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

absl::Status GgufWriter::AddTensor(const std::string& name, DType dtype,
                                   std::vector<int64_t> shape, std::vector<uint8_t> data) {
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  if (shape.empty() || DTypeBytes(dtype, elements) != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, ": ", data.size(),
                                                   " bytes do not match ", ShapeString(shape),
                                                   " of ", DTypeName(dtype)));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name) return absl::InvalidArgumentError(absl::StrCat("duplicate tensor ", name));
  }
  tensors_.push_back({name, dtype, std::move(shape), std::move(data)});
  return absl::OkStatus();
}

absl::Status GgufWriter::Write(const std::string& path) const {
  Buffer header;
  header.Put<uint32_t>(0x46554747);
  header.Put<uint32_t>(3);
  header.Put<int64_t>(tensors_.size());
  header.Put<int64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    header.PutString(key);
    if (value.is_array) {
      header.Put<uint32_t>(static_cast<uint32_t>(GgufType::kArray));
      header.Put<uint32_t>(static_cast<uint32_t>(value.type));
      header.Put<uint64_t>(value.size());
    } else {
      header.Put<uint32_t>(static_cast<uint32_t>(value.type));
    }
    for (size_t i = 0; i < value.size(); ++i) PutElement(header, value, i);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    header.PutString(t.name);
    header.Put<uint32_t>(t.shape.size());
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) header.Put<int64_t>(*d);
    header.Put<uint32_t>(GgmlType(t.dtype));
    header.Put<uint64_t>(offset);
    offset = (offset + t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  header.PadTo(kAlignment);

  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (file == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  bool ok = std::fwrite(header.bytes().data(), 1, header.bytes().size(), file.get()) ==
            header.bytes().size();
  static const uint8_t kZeros[kAlignment] = {};
  for (const Tensor& t : tensors_) {
    ok = ok && std::fwrite(t.data.data(), 1, t.data.size(), file.get()) == t.data.size();
    const size_t padding = (kAlignment - t.data.size() % kAlignment) % kAlignment;
    ok = ok && std::fwrite(kZeros, 1, padding, file.get()) == padding;
  }
  if (!ok || std::fflush(file.get()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace gemma
