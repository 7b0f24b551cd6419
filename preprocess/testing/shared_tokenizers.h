// The real Gemma 4 (GGUF) and Gemma 3 (tokenizer.json) tokenizers, loaded once per test binary.
#ifndef GEMMA_PREPROCESS_TESTING_SHARED_TOKENIZERS_H_
#define GEMMA_PREPROCESS_TESTING_SHARED_TOKENIZERS_H_

#include <cstdio>
#include <cstdlib>

#include "preprocess/testing/reference_paths.h"
#include "preprocess/tokenizer.h"

namespace gemma::testing {

inline const Tokenizer& LoadOnce(const std::string& path) {
  auto loaded = Tokenizer::Load(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s (run scripts/setup.sh)\n", loaded.status().ToString().c_str());
    std::abort();
  }
  return *loaded->release();  // Lives for the whole test binary.
}

inline const Tokenizer& Gemma4Tokenizer() {
  static const Tokenizer& tokenizer = LoadOnce(Gemma4VocabGguf());
  return tokenizer;
}

inline const Tokenizer& Gemma3Tokenizer() {
  static const Tokenizer& tokenizer = LoadOnce(Gemma3TokenizerJson());
  return tokenizer;
}

}  // namespace gemma::testing

#endif  // GEMMA_PREPROCESS_TESTING_SHARED_TOKENIZERS_H_
