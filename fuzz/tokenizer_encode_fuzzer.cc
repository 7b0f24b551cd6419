// Encoding arbitrary bytes with the real Gemma 4 vocabulary: never crashes, every id is in
// range, the tokens' bytes are the input (with U+2581 read as a space, as the decoder does),
// and the streaming detokenizer agrees with Decode. The vocabulary comes from GEMMA_VOCAB_GGUF
// or the setup cache.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "preprocess/stream_detokenizer.h"
#include "preprocess/tokenizer.h"

namespace {

const gemma::Tokenizer& Vocabulary() {
  static const gemma::Tokenizer* tokenizer = [] {
    const char* env = std::getenv("GEMMA_VOCAB_GGUF");
    auto loaded = gemma::Tokenizer::Load(
        env != nullptr ? env : "/var/cache/gemma-serve/llama.cpp/models/ggml-vocab-gemma-4.gguf");
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return loaded->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const gemma::Tokenizer& tokenizer = Vocabulary();
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::string expected(text);
  for (size_t at; (at = expected.find("\xE2\x96\x81")) != std::string::npos;) {
    expected.replace(at, 3, " ");
  }
  for (bool special : {false, true}) {
    std::vector<int32_t> ids = tokenizer.Encode(text, {.parse_special = special});
    std::string bytes;
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
      tokenizer.AppendTokenBytes(id, /*skip_special=*/false, &bytes);
    }
    if (bytes != expected) std::abort();
    gemma::StreamDetokenizer stream(tokenizer, /*skip_special=*/false);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.Push(id);
    streamed += stream.Flush();
    if (streamed != tokenizer.Decode(ids)) std::abort();
  }
  return 0;
}
