// Hugging Face safetensors checkpoints: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json` ({"weight_map": {tensor: file}}), memory-mapped.
//
// File layout: u64 (little-endian) N, then N bytes of JSON {name: {"dtype": "F32"|"F16"|"BF16"|
// "I32"|"I64", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}, then the
// data; offsets are relative to the end of the JSON. Every offset, size and dtype is checked;
// errors name the file and the tensor. Thread-compatible.
#ifndef GEMMA_ENGINE_IO_SAFETENSORS_H_
#define GEMMA_ENGINE_IO_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/io/mapped_file.h"
#include "engine/io/tensor_view.h"

namespace gemma {

class SafetensorsCheckpoint {
 public:
  // `dir` holds model.safetensors.index.json (sharded) or model.safetensors.
  static absl::StatusOr<SafetensorsCheckpoint> OpenDirectory(const std::string& dir);
  // One file.
  static absl::StatusOr<SafetensorsCheckpoint> OpenFile(const std::string& path);

  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }

 private:
  absl::Status AddFile(const std::string& path, const std::vector<std::string>* expected);

  std::vector<MappedFile> files_;
  std::map<std::string, TensorView> tensors_;
};

// A tensor to write: shape outermost first, `data` in `dtype` (F32, F16, BF16, I32 or I64).
struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Writes `entries` to `dir`: a single model.safetensors when they fit in `max_shard_bytes`, else
// model-0000i-of-0000n.safetensors shards plus model.safetensors.index.json.
absl::Status WriteSafetensorsDirectory(const std::string& dir,
                                       const std::vector<SafetensorsEntry>& entries,
                                       uint64_t max_shard_bytes = uint64_t{4} << 30);

}  // namespace gemma

#endif  // GEMMA_ENGINE_IO_SAFETENSORS_H_
