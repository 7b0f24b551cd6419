// A read-only memory map of a whole file. Movable, not copyable; unmaps on destruction.
#ifndef GEMMA_ENGINE_IO_MAPPED_FILE_H_
#define GEMMA_ENGINE_IO_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace gemma {

class MappedFile {
 public:
  // NOT_FOUND / PERMISSION_DENIED / INTERNAL name the path and the OS error.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_IO_MAPPED_FILE_H_
