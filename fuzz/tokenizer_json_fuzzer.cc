// tokenizer.json parsing and tokenizer construction must refuse bad input with a status, never
// crash; a tokenizer that does build must encode and decode.
#include <cstddef>
#include <cstdint>

#include "preprocess/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<gemma::Vocab> vocab = gemma::ParseTokenizerJson(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!vocab.ok()) return 0;
  absl::StatusOr<std::unique_ptr<gemma::Tokenizer>> tokenizer =
      gemma::Tokenizer::Create(*std::move(vocab));
  if (!tokenizer.ok()) return 0;
  std::vector<int32_t> ids = (*tokenizer)->Encode("a b\n<bos>c", {.parse_special = true});
  (*tokenizer)->Decode(ids);
  return 0;
}
