#include "engine/speculative.h"

namespace gemma {
namespace {

double ProbabilityOf(const std::vector<TokenProbability>& distribution, int32_t token) {
  for (const TokenProbability& entry : distribution) {
    if (entry.token == token) return entry.probability;
  }
  return 0.0;
}

// Draws from `distribution` with `excluded` removed and the rest renormalised.
int32_t DrawExcluding(const std::vector<TokenProbability>& distribution, int32_t excluded,
                      double uniform) {
  const double remaining = 1.0 - ProbabilityOf(distribution, excluded);
  if (remaining <= 0.0) return DrawFrom(distribution, uniform);  // p was one-hot on the draft.
  double cumulative = 0.0;
  int32_t last = distribution.front().token;
  for (const TokenProbability& entry : distribution) {
    if (entry.token == excluded) continue;
    cumulative += entry.probability / remaining;
    last = entry.token;
    if (uniform < cumulative) return entry.token;
  }
  return last;
}

}  // namespace

Acceptance AcceptDrafts(const std::vector<int32_t>& drafts,
                        const std::vector<std::vector<TokenProbability>>& targets, uint64_t seed,
                        uint64_t first_index) {
  Acceptance result;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const std::vector<TokenProbability>& p = targets[i];
    const uint64_t index = first_index + i;
    const double accept = ProbabilityOf(p, drafts[i]);
    if (SeededUniform(seed, index, 1) < accept) {
      result.tokens.push_back(drafts[i]);
      ++result.num_accepted;
      continue;
    }
    result.tokens.push_back(DrawExcluding(p, drafts[i], SeededUniform(seed, index, 2)));
    return result;
  }
  const uint64_t bonus_index = first_index + drafts.size();
  result.tokens.push_back(DrawFrom(targets[drafts.size()], SeededUniform(seed, bonus_index, 0)));
  return result;
}

}  // namespace gemma
