#include "service/router/output_stream.h"

#include <algorithm>

namespace gemma {

OutputStream::OutputStream(const Tokenizer& tokenizer, StopConditions stop, bool skip_special)
    : tokenizer_(tokenizer), stop_(std::move(stop)), detokenizer_(tokenizer, skip_special) {}

bool OutputStream::Release(std::string* out, std::string* matched_stop) {
  // The earliest stop string occurrence wins (the longest one where several start there).
  size_t match_at = std::string::npos;
  const std::string* matched = nullptr;
  for (const std::string& stop : stop_.stop_strings) {
    const size_t at = pending_.find(stop);
    if (at != std::string::npos &&
        (at < match_at || (at == match_at && stop.size() > matched->size()))) {
      match_at = at;
      matched = &stop;
    }
  }
  if (matched != nullptr) {
    out->append(pending_, 0, match_at);
    pending_.clear();
    finish_ = v1::FINISH_REASON_STOP_STRING;
    *matched_stop = *matched;
    return true;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stop_.stop_strings) {
    for (size_t k = std::min(stop.size() - 1, pending_.size()); k > hold; --k) {
      if (pending_.compare(pending_.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  out->append(pending_, 0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return false;
}

OutputStream::Delta OutputStream::Push(absl::Span<const int32_t> tokens) {
  Delta delta;
  for (int32_t token : tokens) {
    if (finished()) break;
    ++generated_;
    if (std::find(stop_.stop_token_ids.begin(), stop_.stop_token_ids.end(), token) !=
        stop_.stop_token_ids.end()) {
      pending_ += detokenizer_.Flush();
      delta.text += pending_;
      pending_.clear();
      finish_ = v1::FINISH_REASON_STOP;
      delta.matched_stop = std::to_string(token);
      break;
    }
    delta.token_ids.push_back(token);
    pending_ += detokenizer_.Push(token);
    if (Release(&delta.text, &delta.matched_stop)) break;
    if (stop_.max_tokens > 0 && generated_ >= stop_.max_tokens) {
      pending_ += detokenizer_.Flush();
      // The flushed tail may complete a stop string.
      if (!Release(&delta.text, &delta.matched_stop)) {
        delta.text += pending_;
        pending_.clear();
        finish_ = v1::FINISH_REASON_LENGTH;
      }
      break;
    }
  }
  delta.finish = finish_;
  return delta;
}

OutputStream::Delta OutputStream::Finish(v1::FinishReason reason) {
  Delta delta;
  if (finished()) return delta;
  pending_ += detokenizer_.Flush();
  delta.text = pending_;
  pending_.clear();
  finish_ = reason;
  delta.finish = reason;
  return delta;
}

}  // namespace gemma
