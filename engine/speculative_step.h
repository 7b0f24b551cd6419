// One speculative decoding step over a batch of sequences: each drafts k tokens (k may differ per
// sequence, 0 means a plain decode), the target verifies every sequence's k + 1 positions in one
// batched forward pass, and the drafts are accepted by AcceptDrafts. KV entries written for
// rejected drafts are left in place; the caller rolls its block tables back to
// position + num_accepted + 1 (BlockManager::Truncate) and later steps overwrite them.
#ifndef GEMMA_ENGINE_SPECULATIVE_STEP_H_
#define GEMMA_ENGINE_SPECULATIVE_STEP_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"
#include "engine/model/gemma4_drafter.h"
#include "engine/sampler.h"
#include "engine/speculative.h"

namespace gemma {

struct SpeculativeSequence {
  const BlockTables* blocks = nullptr;  // Covers [0, position + num_draft_tokens + 1).
  int32_t token = 0;    // The last committed token; sits at `position`, not yet in the cache.
  int position = 0;
  std::vector<float> hidden;  // Target's final hidden state at position - 1 ([H]).
  int num_draft_tokens = 0;
  SamplingParams sampling;
  const PenaltyState* penalties = nullptr;  // Output so far (not modified).
  uint64_t output_index = 0;  // Tokens generated so far: the index of the next one.
};

struct SpeculativeOutcome {
  std::vector<int32_t> drafts;
  Acceptance acceptance;      // tokens: accepted drafts, then the corrected or bonus token.
  std::vector<float> hidden;  // Target hidden state that produced the last emitted token.
  // When sampling.logprobs: one per emitted token (acceptance.tokens), from the target's raw
  // logits at the position that produced it.
  std::vector<SampledToken> logprobs;
};

// Checks one step's sequences (tables, penalties, draft counts; a drafter when any drafts).
absl::Status ValidateSpeculativeSequences(absl::Span<const SpeculativeSequence> sequences,
                                          bool has_drafter);

// The acceptance half, for any backend: outcomes[s].drafts hold sequence s's drafts; `logits`
// ([rows, vocab]) and `hidden` ([rows, hidden_size]) come from one target pass over every
// sequence's [token, drafts...] in order. Fills acceptance, logprobs and hidden.
void AcceptVerified(absl::Span<const SpeculativeSequence> sequences, const std::vector<float>& logits,
                    const std::vector<float>& hidden, int vocab, int hidden_size,
                    std::vector<SpeculativeOutcome>* outcomes);

// `drafter` may be null when every num_draft_tokens is 0.
absl::Status SpeculativeStep(const Gemma4Model& target, const Drafter* drafter, KvCache& cache,
                             absl::Span<const SpeculativeSequence> sequences,
                             std::vector<SpeculativeOutcome>* outcomes,
                             const ForwardOptions& options = {}, ForwardStats* stats = nullptr);

}  // namespace gemma

#endif  // GEMMA_ENGINE_SPECULATIVE_STEP_H_
