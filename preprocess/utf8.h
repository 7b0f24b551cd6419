// UTF-8 helpers shared by the tokenizer and the streaming detokenizer.
#ifndef GEMMA_PREPROCESS_UTF8_H_
#define GEMMA_PREPROCESS_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace gemma {

// Bytes in the character a lead byte starts (1 for bytes that cannot start one).
inline size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0xC2) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 1;
}

// Bytes of the well-formed character starting at text[i], or 1 when the bytes there are not one
// (so an ill-formed byte never swallows the bytes after it).
size_t WellFormedLength(absl::string_view text, size_t i);

// Appends the well-formed text of `bytes` to `out`, each maximal ill-formed subsequence replaced
// by one U+FFFD (the Unicode-recommended practice). With `final` false, a trailing sequence that
// is incomplete but could still become valid is left unconsumed. Returns the bytes consumed.
size_t AppendUtf8(absl::string_view bytes, bool final, std::string* out);

inline bool IsValidUtf8(absl::string_view bytes) {
  std::string copy;
  AppendUtf8(bytes, true, &copy);
  return copy == bytes;
}

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_UTF8_H_
