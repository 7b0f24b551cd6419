#include "preprocess/stream_detokenizer.h"

#include "preprocess/utf8.h"

namespace gemma {

std::string StreamDetokenizer::Push(int32_t id) {
  tokenizer_.AppendTokenBytes(id, skip_special_, &pending_);
  std::string text;
  const size_t consumed = AppendUtf8(pending_, /*final=*/false, &text);
  pending_.erase(0, consumed);
  return text;
}

std::string StreamDetokenizer::Flush() {
  std::string text;
  AppendUtf8(pending_, /*final=*/true, &text);
  pending_.clear();
  return text;
}

}  // namespace gemma
