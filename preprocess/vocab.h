// A BPE vocabulary as Gemma ships it, loaded from a Hugging Face `tokenizer.json` or a GGUF file.
//
// Gemma's tokenizer (Gemma 3 and Gemma 4, 262144 pieces):
//   normalizer     every " " becomes "\u2581" (LOWER ONE EIGHTH BLOCK, written "▁" below);
//   pre-tokenizer  none for Gemma 3 (its Split on " " never matches after the normalizer);
//                  Gemma 4 splits runs of "\n" from the rest (llama.cpp pre-type "gemma4");
//   model          BPE over UTF-8 characters, merges by rank, byte fallback to <0xXX> pieces;
//   added tokens   matched atomically in the raw text before normalization; special ones
//                  (control tokens) only when the caller asks for special-token parsing;
//   decoder        "▁" -> " ", byte pieces -> bytes, concatenated.
// A vocabulary that needs anything else is refused with UNIMPLEMENTED naming the component.
#ifndef GEMMA_PREPROCESS_VOCAB_H_
#define GEMMA_PREPROCESS_VOCAB_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace gemma {

// Values are GGUF's `tokenizer.ggml.token_type` codes.
enum class TokenType : uint8_t {
  kNormal = 1,       // A BPE piece.
  kUnknown = 2,      // <unk>.
  kControl = 3,      // A special added token: matched only with special-token parsing on.
  kUserDefined = 4,  // A non-special added token: always matched atomically.
  kUnused = 5,
  kByte = 6,         // <0xXX>: byte fallback.
};

struct Vocab {
  std::vector<std::string> pieces;  // Indexed by token id; UTF-8 with "▁" for spaces.
  std::vector<TokenType> types;     // Same length as pieces.
  // Merge rules in rank order (rank 0 first): left piece + right piece -> their concatenation.
  std::vector<std::pair<std::string, std::string>> merges;
  // Pre-tokenizer: split runs of "\n" from other text; a run that is itself a piece is one token.
  bool split_newlines = false;
  bool add_bos = true;  // What the vocabulary asks for; encode options decide.
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::string chat_template;  // Jinja source when the file carries one (GGUF metadata).
  std::string source;         // File it came from, for messages.

  int32_t size() const { return static_cast<int32_t>(pieces.size()); }
};

// The byte a "<0xHH>" piece stands for, or -1 for any other piece.
int ByteFallbackValue(absl::string_view piece);

// `text` is the whole tokenizer.json; `source` names it in errors.
absl::StatusOr<Vocab> ParseTokenizerJson(absl::string_view text, const std::string& source);
absl::StatusOr<Vocab> LoadTokenizerJson(const std::string& path);

// GGUF with tokenizer.ggml.model "gemma4" (BPE with merges). Other models are UNIMPLEMENTED.
absl::StatusOr<Vocab> LoadGgufVocab(const std::string& path);

// The vocabulary as a Hugging Face tokenizer.json (Gemma's structure: Replace normalizer, a
// "\n"-run Split pre-tokenizer when split_newlines, BPE with byte fallback, control tokens as
// special added tokens, user-defined ones as non-special). ParseTokenizerJson reads it back.
std::string TokenizerJson(const Vocab& vocab);

// A model directory (tokenizer.json inside), a tokenizer.json file or a .gguf file.
absl::StatusOr<Vocab> LoadVocab(const std::string& path);

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_VOCAB_H_
