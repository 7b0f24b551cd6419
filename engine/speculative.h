// Acceptance of drafted tokens against the target model (speculative decoding; Leviathan et al.
// 2023, Chen et al. 2023), for drafts proposed greedily (a one-hot draft distribution, as Gemma's
// MTP drafter is run).
//
// Given drafts x_1..x_k and the target's processed distributions p_1..p_{k+1} (the sampler's
// ProcessedDistribution at the k+1 verified positions):
//   greedy (p is one-hot): accept x_i while x_i is the target's choice; emit the target's choice at
//     the first mismatch, or a bonus token after k acceptances.
//   sampling: accept x_i with probability p_i(x_i); at the first rejection draw from p_i with x_i
//     removed and renormalised; after k acceptances draw a bonus token from p_{k+1}.
// The emitted sequence is distributed exactly as sampling from the target alone. Draws use the
// sampler's counter-based uniforms keyed by (seed, output index, stream), so results are
// reproducible and independent of batch composition. Thread-safe (pure functions).
#ifndef GEMMA_ENGINE_SPECULATIVE_H_
#define GEMMA_ENGINE_SPECULATIVE_H_

#include <cstdint>
#include <vector>

#include "engine/sampler.h"

namespace gemma {

struct Acceptance {
  std::vector<int32_t> tokens;  // Accepted drafts, then one corrected or bonus token.
  int num_accepted = 0;         // Drafts accepted (tokens.size() - 1).
};

// `targets`: k + 1 processed distributions; `first_index`: the output index of the token that
// x_1 would become (the sequence's number of generated tokens so far).
Acceptance AcceptDrafts(const std::vector<int32_t>& drafts,
                        const std::vector<std::vector<TokenProbability>>& targets,
                        uint64_t seed, uint64_t first_index);

}  // namespace gemma

#endif  // GEMMA_ENGINE_SPECULATIVE_H_
