#include "engine/speculative_step.h"

#include "absl/strings/str_cat.h"

namespace gemma {

absl::Status ValidateSpeculativeSequences(absl::Span<const SpeculativeSequence> sequences,
                                          bool has_drafter) {
  for (size_t s = 0; s < sequences.size(); ++s) {
    const SpeculativeSequence& seq = sequences[s];
    if (seq.blocks == nullptr || seq.penalties == nullptr || seq.num_draft_tokens < 0) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, ": incomplete request"));
    }
    if (seq.num_draft_tokens > 0 && !has_drafter) {
      return absl::FailedPreconditionError("speculative step without a drafter");
    }
  }
  return absl::OkStatus();
}

void AcceptVerified(absl::Span<const SpeculativeSequence> sequences,
                    const std::vector<float>& logits, const std::vector<float>& hidden, int vocab,
                    int hidden_size, std::vector<SpeculativeOutcome>* outcomes) {
  // Penalties see the drafts accepted before each position.
  size_t row = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const SpeculativeSequence& seq = sequences[s];
    SpeculativeOutcome& outcome = (*outcomes)[s];
    PenaltyState penalties = *seq.penalties;
    const size_t positions = outcome.drafts.size() + 1;
    std::vector<std::vector<TokenProbability>> targets;
    for (size_t i = 0; i < positions; ++i) {
      targets.push_back(
          ProcessedDistribution(&logits[(row + i) * vocab], vocab, seq.sampling, penalties));
      if (i < outcome.drafts.size()) penalties.AddOutput(outcome.drafts[i]);
    }
    outcome.acceptance = AcceptDrafts(outcome.drafts, targets, seq.sampling.seed,
                                      seq.output_index);
    if (seq.sampling.logprobs) {
      for (size_t i = 0; i < outcome.acceptance.tokens.size(); ++i) {
        SampledToken entry;
        entry.token = outcome.acceptance.tokens[i];
        RawLogprobs(&logits[(row + i) * vocab], vocab, outcome.acceptance.tokens[i],
                    seq.sampling.top_logprobs, &entry);
        outcome.logprobs.push_back(std::move(entry));
      }
    }
    const size_t producer = row + outcome.acceptance.num_accepted;
    outcome.hidden.assign(hidden.begin() + producer * hidden_size,
                          hidden.begin() + (producer + 1) * hidden_size);
    row += positions;
  }
}

absl::Status SpeculativeStep(const Gemma4Model& target, const Drafter* drafter, KvCache& cache,
                             absl::Span<const SpeculativeSequence> sequences,
                             std::vector<SpeculativeOutcome>* outcomes,
                             const ForwardOptions& options, ForwardStats* stats) {
  absl::Status status = ValidateSpeculativeSequences(sequences, drafter != nullptr);
  if (!status.ok()) return status;
  outcomes->assign(sequences.size(), SpeculativeOutcome());
  // 1. Drafts.
  std::vector<std::vector<int32_t>> inputs(sequences.size());
  for (size_t s = 0; s < sequences.size(); ++s) {
    const SpeculativeSequence& seq = sequences[s];
    if (seq.num_draft_tokens > 0) {
      status = drafter->Draft(target, cache, *seq.blocks, seq.token, seq.position, seq.hidden,
                              seq.num_draft_tokens, &(*outcomes)[s].drafts);
      if (!status.ok()) return status;
    }
    inputs[s].push_back(seq.token);
    inputs[s].insert(inputs[s].end(), (*outcomes)[s].drafts.begin(), (*outcomes)[s].drafts.end());
  }
  // 2. One target pass over every sequence's k + 1 positions.
  std::vector<ForwardChunk> chunks;
  for (size_t s = 0; s < sequences.size(); ++s) {
    chunks.push_back({inputs[s], sequences[s].position, sequences[s].blocks, /*all_logits=*/true});
  }
  std::vector<float> logits, hidden;
  status = target.Forward(chunks, cache, &logits, options, &hidden, stats);
  if (!status.ok()) return status;
  // 3. Acceptance.
  AcceptVerified(sequences, logits, hidden, target.config().vocab_size,
                 target.config().hidden_size, outcomes);
  return absl::OkStatus();
}

}  // namespace gemma
