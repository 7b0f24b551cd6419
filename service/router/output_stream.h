// What a client sees of one request's generated tokens: text deltas that are complete UTF-8 and
// never contain any part of a matched stop string, the tokens behind them, and how it finished.
//
// Stop conditions, checked token by token in generation order:
//   - a stop token (the model's end-of-turn ids unless ignore_eos, plus stop_token_ids): finish
//     STOP; the token counts as generated but adds no text and is not reported;
//   - a stop string: matched in the generated text across token boundaries; the text before it
//     is emitted, the rest never is; finish STOP_STRING with matched_stop;
//   - max_tokens generated: finish LENGTH.
// Text that could still become a stop string (a suffix equal to a stop string's prefix) is held
// back until it cannot; everything held back is released at any other finish. Tokens after the
// finish (a speculative step emits several at once) are ignored.
#ifndef GEMMA_SERVICE_ROUTER_OUTPUT_STREAM_H_
#define GEMMA_SERVICE_ROUTER_OUTPUT_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "gemma/v1/gemma_service.pb.h"
#include "preprocess/stream_detokenizer.h"
#include "preprocess/tokenizer.h"

namespace gemma {

struct StopConditions {
  std::vector<std::string> stop_strings;  // Non-empty strings.
  std::vector<int32_t> stop_token_ids;    // Including the model's end-of-turn ids when wanted.
  uint32_t max_tokens = 0;                // 0: no limit here (the router caps by context).
};

class OutputStream {
 public:
  struct Delta {
    std::string text;
    std::vector<int32_t> token_ids;  // Reported tokens consumed by this call.
    v1::FinishReason finish = v1::FINISH_REASON_UNSPECIFIED;
    std::string matched_stop;        // The stop string, or the stop token id in decimal.
  };

  // `tokenizer` must outlive the stream. Control tokens add no text when skip_special.
  OutputStream(const Tokenizer& tokenizer, StopConditions stop, bool skip_special = true);

  // Consumes generated tokens in order until the request finishes.
  Delta Push(absl::Span<const int32_t> tokens);
  // Ends the request for another reason (ABORT, ERROR, or LENGTH at the context limit),
  // releasing held-back text. No-op when already finished.
  Delta Finish(v1::FinishReason reason);

  bool finished() const { return finish_ != v1::FINISH_REASON_UNSPECIFIED; }
  // Tokens generated so far, stop token included (usage.completion_tokens).
  uint32_t generated() const { return generated_; }
  uint32_t max_tokens() const { return stop_.max_tokens; }  // 0: no limit.

 private:
  // Moves text that can no longer start a stop string from pending_ to `out`; true when a stop
  // string matched (then `out` ends right before it and `matched_stop` names it).
  bool Release(std::string* out, std::string* matched_stop);

  const Tokenizer& tokenizer_;
  const StopConditions stop_;
  StreamDetokenizer detokenizer_;
  std::string pending_;  // Decoded, not yet emitted.
  uint32_t generated_ = 0;
  v1::FinishReason finish_ = v1::FINISH_REASON_UNSPECIFIED;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_OUTPUT_STREAM_H_
