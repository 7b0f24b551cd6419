// Turns a stream of token ids into text deltas that are always complete UTF-8.
//
// Invariant: the concatenation of every Push() result and the final Flush() equals
// Tokenizer::Decode(all ids). Bytes of a character split across byte-fallback tokens are held
// until the character completes; an ill-formed sequence becomes U+FFFD as soon as it is known to
// be ill-formed (or at Flush).
#ifndef GEMMA_PREPROCESS_STREAM_DETOKENIZER_H_
#define GEMMA_PREPROCESS_STREAM_DETOKENIZER_H_

#include <cstdint>
#include <string>

#include "preprocess/tokenizer.h"

namespace gemma {

class StreamDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  StreamDetokenizer(const Tokenizer& tokenizer, bool skip_special)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}

  // The text completed by this token (often empty while a character is incomplete).
  std::string Push(int32_t id);
  // Whatever is pending, with an incomplete tail as U+FFFD; the stream can go on afterwards.
  std::string Flush();
  // Bytes held back waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  const bool skip_special_;
  std::string pending_;
};

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_STREAM_DETOKENIZER_H_
