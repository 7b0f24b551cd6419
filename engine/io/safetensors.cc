#include "engine/io/safetensors.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gemma {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100 << 20;

absl::StatusOr<DType> ParseDType(const std::string& name, const std::string& path,
                                 const std::string& tensor) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  if (name == "I32") return DType::kI32;
  if (name == "I64") return DType::kI64;
  return absl::UnimplementedError(absl::StrCat(path, ": tensor ", tensor, ": dtype ", name,
                                               " is not supported (F32, F16, BF16, I32, I64)"));
}

const char* DTypeTag(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kQ8_0: return nullptr;
  }
  return nullptr;
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

absl::Status WriteFile(const std::string& path, const std::vector<const SafetensorsEntry*>& part) {
  Json header = Json::object();
  uint64_t offset = 0;
  for (const SafetensorsEntry* e : part) {
    if (DTypeTag(e->dtype) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", e->name, ": dtype ",
                                                     DTypeName(e->dtype),
                                                     " cannot be stored in safetensors"));
    }
    header[e->name] = {{"dtype", DTypeTag(e->dtype)},
                       {"shape", e->shape},
                       {"data_offsets", {offset, offset + e->data.size()}}};
    offset += e->data.size();
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // Keep the data 8-byte aligned.
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (file == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  const uint64_t length = text.size();
  bool ok = std::fwrite(&length, 8, 1, file.get()) == 1 &&
            std::fwrite(text.data(), 1, text.size(), file.get()) == text.size();
  for (const SafetensorsEntry* e : part) {
    ok = ok && std::fwrite(e->data.data(), 1, e->data.size(), file.get()) == e->data.size();
  }
  if (!ok || std::fflush(file.get()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsCheckpoint> SafetensorsCheckpoint::OpenFile(const std::string& path) {
  SafetensorsCheckpoint checkpoint;
  absl::Status status = checkpoint.AddFile(path, nullptr);
  if (!status.ok()) return status;
  return checkpoint;
}

absl::StatusOr<SafetensorsCheckpoint> SafetensorsCheckpoint::OpenDirectory(
    const std::string& dir) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  SafetensorsCheckpoint checkpoint;
  if (!FileExists(index_path)) {
    absl::Status status = checkpoint.AddFile(dir + "/model.safetensors", nullptr);
    if (!status.ok()) return status;
    return checkpoint;
  }
  std::ifstream in(index_path);
  Json index = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
      !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": not a JSON object with a \"weight_map\" object"));
  }
  std::map<std::string, std::vector<std::string>> by_file;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map[", tensor, "] is not a file name"));
    }
    const std::string name = file.get<std::string>();
    if (name.find('/') != std::string::npos || name.find("..") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map[", tensor, "] = ", name, " leaves ", dir));
    }
    by_file[name].push_back(tensor);
  }
  for (const auto& [file, expected] : by_file) {
    absl::Status status = checkpoint.AddFile(dir + "/" + file, &expected);
    if (!status.ok()) return status;
  }
  return checkpoint;
}

absl::Status SafetensorsCheckpoint::AddFile(const std::string& path,
                                            const std::vector<std::string>* expected) {
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const uint8_t* base = mapped->data();
  const size_t size = mapped->size();
  uint64_t header_bytes = 0;
  if (size < 8) return absl::DataLossError(absl::StrCat(path, ": truncated (no header length)"));
  std::memcpy(&header_bytes, base, 8);
  if (header_bytes > kMaxHeaderBytes || header_bytes > size - 8) {
    return absl::DataLossError(absl::StrFormat(
        "%s: header length %d exceeds the file (%d bytes): truncated or not safetensors", path,
        header_bytes, size));
  }
  Json header = Json::parse(base + 8, base + 8 + header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header is not a JSON object"));
  }
  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_size = size - data_start;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", name, ": ", why));
    };
    if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() ||
        !info.contains("shape") || !info["shape"].is_array() || !info.contains("data_offsets") ||
        !info["data_offsets"].is_array() || info["data_offsets"].size() != 2) {
      return bad("needs dtype, shape and data_offsets");
    }
    absl::StatusOr<DType> dtype = ParseDType(info["dtype"].get<std::string>(), path, name);
    if (!dtype.ok()) return dtype.status();
    TensorView tensor;
    tensor.name = name;
    tensor.dtype = *dtype;
    int64_t elements = 1;
    for (const Json& d : info["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40) / elements) {
        return bad("bad shape");
      }
      tensor.shape.push_back(d.get<int64_t>());
      elements *= tensor.shape.back();
    }
    const Json& offsets = info["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      return bad("bad data_offsets");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    tensor.bytes = DTypeBytes(tensor.dtype, elements);
    if (begin > end || end - begin != tensor.bytes) {
      return bad(absl::StrCat("data_offsets [", begin, ", ", end, ") hold ", end - begin,
                              " bytes, but ", ShapeString(tensor.shape), " of ",
                              DTypeName(tensor.dtype), " needs ", tensor.bytes));
    }
    if (end > data_size) {
      return absl::DataLossError(absl::StrCat(path, ": tensor ", name, " ends at byte ", end,
                                              " of a ", data_size, "-byte data section: truncated?"));
    }
    tensor.data = base + data_start + begin;
    if (tensors_.count(name) != 0) return bad("appears in two files");
    tensors_[name] = std::move(tensor);
  }
  if (expected != nullptr) {
    for (const std::string& name : *expected) {
      if (tensors_.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": the index lists tensor ", name, " but the file lacks it"));
      }
    }
  }
  files_.push_back(std::move(*mapped));
  return absl::OkStatus();
}

const TensorView* SafetensorsCheckpoint::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::Status WriteSafetensorsDirectory(const std::string& dir,
                                       const std::vector<SafetensorsEntry>& entries,
                                       uint64_t max_shard_bytes) {
  std::vector<std::vector<const SafetensorsEntry*>> shards(1);
  uint64_t shard_bytes = 0;
  for (const SafetensorsEntry& e : entries) {
    if (shard_bytes > 0 && shard_bytes + e.data.size() > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(&e);
    shard_bytes += e.data.size();
  }
  if (shards.size() == 1) return WriteFile(dir + "/model.safetensors", shards[0]);
  Json weight_map = Json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name =
        absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
    absl::Status status = WriteFile(dir + "/" + name, shards[i]);
    if (!status.ok()) return status;
    for (const SafetensorsEntry* e : shards[i]) weight_map[e->name] = name;
  }
  std::ofstream index(dir + "/model.safetensors.index.json");
  index << Json{{"metadata", Json::object()}, {"weight_map", weight_map}}.dump(2) << "\n";
  if (!index) return absl::InternalError(absl::StrCat("cannot write ", dir, "/model.safetensors.index.json"));
  return absl::OkStatus();
}

}  // namespace gemma
