// Token selection from next-token logits: suppression, penalties, temperature, top-k, top-p,
// min-p, greedy or seeded sampling, and log-probabilities.
//
// Order (as in vLLM / HF): suppressed tokens -> -inf; repetition penalty (over prompt and output:
// l > 0 ? l / r : l * r); presence and frequency penalties (over output: l -= presence * [n > 0]
// + frequency * n); temperature 0 -> argmax; else l / T, softmax, keep the top_k, then the smallest
// head with cumulative probability >= top_p, then tokens with p >= min_p * p_max; renormalise and
// draw.
//
// Determinism: the draw for output token i of a sequence uses a counter-based generator keyed by
// (seed, i, stream) only, so the same prompt and seed give the same tokens whatever else is in
// the batch, on any number of ranks, with or without speculation. Thread-safe (pure functions).
#ifndef GEMMA_ENGINE_SAMPLER_H_
#define GEMMA_ENGINE_SAMPLER_H_

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace gemma {

struct SamplingParams {
  float temperature = 1.f;  // 0: greedy.
  int top_k = 0;            // 0: off.
  float top_p = 1.f;        // 1: off.
  float min_p = 0.f;        // 0: off.
  float repetition_penalty = 1.f;
  float presence_penalty = 0.f;
  float frequency_penalty = 0.f;
  uint64_t seed = 0;
  std::vector<int32_t> suppress_tokens;
  bool logprobs = false;  // Report the chosen token's log-probability.
  int top_logprobs = 0;   // Alternatives to report per token (0..20); implies logprobs.
};

// INVALID_ARGUMENT naming the field when a value is out of range.
absl::Status ValidateSamplingParams(const SamplingParams& params, int vocab_size);

// What penalties need to know about a sequence.
class PenaltyState {
 public:
  explicit PenaltyState(const std::vector<int32_t>& prompt = {});
  void AddOutput(int32_t token) { ++output_counts_[token]; }
  // Undoes AddOutput (speculative rollback).
  void RemoveOutput(int32_t token);
  bool in_prompt_or_output(int32_t token) const {
    return prompt_tokens_.count(token) != 0 || output_counts_.count(token) != 0;
  }
  const std::unordered_map<int32_t, int>& output_counts() const { return output_counts_; }
  const std::unordered_map<int32_t, int>& prompt_tokens() const { return prompt_tokens_; }

 private:
  std::unordered_map<int32_t, int> prompt_tokens_;
  std::unordered_map<int32_t, int> output_counts_;
};

struct TokenProbability {
  int32_t token;
  float probability;
};

// The distribution the sampler draws from (after every step above), without zero-probability
// entries: most likely first when top_k or top_p applies (they need the order), otherwise in token
// order (sorting 262144 entries per token would dominate decode). Greedy: the argmax alone.
std::vector<TokenProbability> ProcessedDistribution(const float* logits, int vocab,
                                                    const SamplingParams& params,
                                                    const PenaltyState& penalties);

// A uniform double in [0, 1) for output index `index` of a sequence seeded `seed`; `stream`
// separates independent uses (0: token choice, 1: speculative acceptance, 2: residual draw).
double SeededUniform(uint64_t seed, uint64_t index, uint32_t stream);

// The token whose cumulative probability interval holds `uniform`.
int32_t DrawFrom(const std::vector<TokenProbability>& distribution, double uniform);

struct SampledToken {
  int32_t token = 0;
  // When requested: log softmax of the raw logits (before penalties and temperature).
  float logprob = 0.f;
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs alternatives, most likely first.
};

// Samples output token `index` of a sequence.
SampledToken Sample(const float* logits, int vocab, const SamplingParams& params,
                    const PenaltyState& penalties, uint64_t index);

// Log-probability of `token` and the `top_n` most likely tokens under the raw logits.
void RawLogprobs(const float* logits, int vocab, int32_t token, int top_n, SampledToken* out);

}  // namespace gemma

#endif  // GEMMA_ENGINE_SAMPLER_H_
