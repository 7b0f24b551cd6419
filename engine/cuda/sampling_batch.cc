#include "engine/cuda/sampling_batch.h"

#include <map>

namespace gemma::cuda {

SamplingBatch BuildSamplingBatch(absl::Span<const SamplingRequest> requests, int vocab) {
  SamplingBatch batch;
  batch.rows = static_cast<int>(requests.size());
  for (int row = 0; row < batch.rows; ++row) {
    const SamplingParams& p = *requests[row].params;
    const PenaltyState* penalties = requests[row].penalties;
    struct Edit {
      bool suppress = false;
      float repetition = 1.f;
      float subtract = 0.f;
    };
    std::map<int32_t, Edit> edits;  // Ordered: deterministic uploads.
    for (int32_t token : p.suppress_tokens) edits[token].suppress = true;
    if (penalties != nullptr) {
      if (p.repetition_penalty != 1.f) {
        for (const auto& [token, count] : penalties->prompt_tokens()) {
          edits[token].repetition = p.repetition_penalty;
        }
        for (const auto& [token, count] : penalties->output_counts()) {
          edits[token].repetition = p.repetition_penalty;
        }
      }
      if (p.presence_penalty != 0.f || p.frequency_penalty != 0.f) {
        for (const auto& [token, count] : penalties->output_counts()) {
          edits[token].subtract = p.presence_penalty + p.frequency_penalty * count;
        }
      }
    }
    for (const auto& [token, edit] : edits) {
      batch.edit_row.push_back(row);
      batch.edit_token.push_back(token);
      batch.edit_suppress.push_back(edit.suppress);
      batch.edit_repetition.push_back(edit.repetition);
      batch.edit_subtract.push_back(edit.subtract);
    }
    const bool top_k = p.top_k > 0 && p.top_k < vocab;
    batch.temperature.push_back(p.temperature);
    batch.top_k.push_back(top_k ? p.top_k : 0);
    batch.top_p.push_back(p.top_p);
    batch.min_p.push_back(p.min_p);
    batch.sorted.push_back(p.temperature != 0.f && (top_k || p.top_p < 1.f));
    batch.uniform.push_back(SeededUniform(p.seed, requests[row].index, 0));
  }
  return batch;
}

}  // namespace gemma::cuda
