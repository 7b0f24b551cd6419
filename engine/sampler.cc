#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p, int vocab_size) {
  auto bad = [](const char* field, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.", field, ": ", why));
  };
  if (!(p.temperature >= 0.f && p.temperature <= 2.f)) return bad("temperature", "must be in [0, 2]");
  if (p.top_k < 0) return bad("top_k", "must be >= 0");
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) return bad("top_p", "must be in (0, 1]");
  if (!(p.min_p >= 0.f && p.min_p <= 1.f)) return bad("min_p", "must be in [0, 1]");
  if (!(p.repetition_penalty > 0.f && std::isfinite(p.repetition_penalty))) {
    return bad("repetition_penalty", "must be > 0");
  }
  if (!(p.presence_penalty >= -2.f && p.presence_penalty <= 2.f)) {
    return bad("presence_penalty", "must be in [-2, 2]");
  }
  if (!(p.frequency_penalty >= -2.f && p.frequency_penalty <= 2.f)) {
    return bad("frequency_penalty", "must be in [-2, 2]");
  }
  if (p.top_logprobs < 0 || p.top_logprobs > 20) return bad("top_logprobs", "must be in [0, 20]");
  for (int32_t token : p.suppress_tokens) {
    if (token < 0 || token >= vocab_size) {
      return bad("suppress_token_ids", absl::StrCat("token id ", token, " is out of range"));
    }
  }
  return absl::OkStatus();
}

PenaltyState::PenaltyState(const std::vector<int32_t>& prompt) {
  for (int32_t token : prompt) ++prompt_tokens_[token];
}

void PenaltyState::RemoveOutput(int32_t token) {
  auto it = output_counts_.find(token);
  if (it == output_counts_.end()) return;
  if (--it->second == 0) output_counts_.erase(it);
}

double SeededUniform(uint64_t seed, uint64_t index, uint32_t stream) {
  const uint64_t bits =
      SplitMix64(SplitMix64(seed ^ 0x5851f42d4c957f2dull) ^ SplitMix64(index * 4 + stream));
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);  // 53 bits.
}

std::vector<TokenProbability> ProcessedDistribution(const float* raw, int vocab,
                                                    const SamplingParams& params,
                                                    const PenaltyState& penalties) {
  std::vector<float> logits(raw, raw + vocab);
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  for (int32_t token : params.suppress_tokens) logits[token] = kMinusInf;
  if (params.repetition_penalty != 1.f) {
    auto penalise = [&](int32_t token) {
      float& l = logits[token];
      l = l > 0 ? l / params.repetition_penalty : l * params.repetition_penalty;
    };
    for (const auto& [token, count] : penalties.prompt_tokens()) penalise(token);
    for (const auto& [token, count] : penalties.output_counts()) {
      if (penalties.prompt_tokens().count(token) == 0) penalise(token);
    }
  }
  if (params.presence_penalty != 0.f || params.frequency_penalty != 0.f) {
    for (const auto& [token, count] : penalties.output_counts()) {
      logits[token] -= params.presence_penalty + params.frequency_penalty * count;
    }
  }
  if (params.temperature == 0.f) {
    const int32_t best = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    return {{best, 1.f}};
  }
  std::vector<int32_t> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  if (params.top_k > 0 && params.top_k < vocab) {
    std::nth_element(order.begin(), order.begin() + params.top_k, order.end(), by_logit);
    order.resize(params.top_k);
    std::sort(order.begin(), order.end(), by_logit);
  } else if (params.top_p < 1.f) {
    std::sort(order.begin(), order.end(), by_logit);
  }
  float max_logit = kMinusInf;
  for (int32_t token : order) max_logit = std::max(max_logit, logits[token]);
  const double max = max_logit / params.temperature;
  std::vector<double> weight(order.size());
  double sum = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    weight[i] = std::exp(logits[order[i]] / params.temperature - max);  // 0 for -inf.
    sum += weight[i];
  }
  size_t kept = order.size();
  if (params.top_p < 1.f) {  // `order` is sorted here.
    double cumulative = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      cumulative += weight[i] / sum;
      if (cumulative >= params.top_p) {
        kept = i + 1;
        break;
      }
    }
  }
  const double threshold = params.min_p;  // Relative to the largest weight, which is exp(0) = 1.
  std::vector<TokenProbability> distribution;
  double kept_sum = 0;
  for (size_t i = 0; i < kept; ++i) {
    if (weight[i] > 0 && weight[i] >= threshold) kept_sum += weight[i];
  }
  for (size_t i = 0; i < kept; ++i) {
    if (weight[i] > 0 && weight[i] >= threshold) {
      distribution.push_back({order[i], static_cast<float>(weight[i] / kept_sum)});
    }
  }
  if (distribution.empty()) {  // Everything suppressed: fall back to the best raw logit.
    return {{static_cast<int32_t>(std::max_element(raw, raw + vocab) - raw), 1.f}};
  }
  return distribution;
}

int32_t DrawFrom(const std::vector<TokenProbability>& distribution, double uniform) {
  double cumulative = 0;
  for (const TokenProbability& entry : distribution) {
    cumulative += entry.probability;
    if (uniform < cumulative) return entry.token;
  }
  return distribution.back().token;  // Rounding left the total just under 1.
}

void RawLogprobs(const float* logits, int vocab, int32_t token, int top_n, SampledToken* out) {
  const float max = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_sum = max + std::log(sum);
  out->logprob = static_cast<float>(logits[token] - log_sum);
  out->top.clear();
  if (top_n <= 0) return;
  std::vector<int32_t> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  top_n = std::min(top_n, vocab);
  std::partial_sort(order.begin(), order.begin() + top_n, order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int i = 0; i < top_n; ++i) {
    out->top.emplace_back(order[i], static_cast<float>(logits[order[i]] - log_sum));
  }
}

SampledToken Sample(const float* logits, int vocab, const SamplingParams& params,
                    const PenaltyState& penalties, uint64_t index) {
  const std::vector<TokenProbability> distribution =
      ProcessedDistribution(logits, vocab, params, penalties);
  SampledToken result;
  result.token = DrawFrom(distribution, SeededUniform(params.seed, index, 0));
  if (params.logprobs || params.top_logprobs > 0) {
    RawLogprobs(logits, vocab, result.token, params.top_logprobs, &result);
  }
  return result;
}

}  // namespace gemma
