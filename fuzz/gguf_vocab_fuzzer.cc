// GGUF vocabulary loading (the GGUF reader included) must refuse bad files with a status.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "preprocess/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader reads files: give it an in-memory one.
  const int fd = memfd_create("fuzz.gguf", 0);
  if (fd < 0) return 0;
  if (size == 0 || write(fd, data, size) == static_cast<ssize_t>(size)) {
    absl::StatusOr<gemma::Vocab> vocab =
        gemma::LoadGgufVocab("/proc/self/fd/" + std::to_string(fd));
    if (vocab.ok()) {
      absl::StatusOr<std::unique_ptr<gemma::Tokenizer>> tokenizer =
          gemma::Tokenizer::Create(*std::move(vocab));
      if (tokenizer.ok()) (*tokenizer)->Decode((*tokenizer)->Encode("x y", {}));
    }
  }
  close(fd);
  return 0;
}
