// Writes GGUF version 3 files (format in gguf.h): metadata in insertion order, then tensors in
// insertion order, each aligned to 32 bytes. For the project's own tools (test checkpoints).
#ifndef GEMMA_ENGINE_IO_GGUF_WRITER_H_
#define GEMMA_ENGINE_IO_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/dtype.h"
#include "engine/io/gguf.h"

namespace gemma {

class GgufWriter {
 public:
  // Sets (or replaces) a metadata entry.
  void SetMetadata(const std::string& key, GgufValue value);
  // Adds a tensor; `shape` outermost first (written reversed, as GGUF wants). `data` holds
  // DTypeBytes(dtype, elements) bytes. INVALID_ARGUMENT on a size mismatch or a duplicate name.
  absl::Status AddTensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                         std::vector<uint8_t> data);
  absl::Status Write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_IO_GGUF_WRITER_H_
