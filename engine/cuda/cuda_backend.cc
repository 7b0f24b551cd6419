#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gemma::cuda {

CudaBackend::CudaBackend(CudaGemma4Model& model, CudaGemma4Drafter* drafter)
    : model_(model), drafter_(drafter), device_("cuda") {
  int device = 0;
  cudaDeviceProp props;
  if (cudaGetDevice(&device) == cudaSuccess &&
      cudaGetDeviceProperties(&props, device) == cudaSuccess) {
    device_ = absl::StrCat("cuda:", device, " ", props.name);
  }
}

absl::Status CudaBackend::AllocateCache(const KvCacheOptions& options) {
  cache_.reset();
  absl::StatusOr<CudaKvCache> cache = CudaKvCache::Create(model_.shard_config(), options);
  if (!cache.ok()) return cache.status();
  cache_.emplace(std::move(*cache));
  return absl::OkStatus();
}

absl::Status CudaBackend::Forward(absl::Span<const ForwardChunk> chunks, std::vector<float>* logits,
                                  std::vector<float>* hidden, ForwardStats*) {
  if (!cache_.has_value()) return absl::FailedPreconditionError("no KV cache allocated");
  return model_.Forward(chunks, *cache_, logits, hidden);
}

absl::Status CudaBackend::Speculate(absl::Span<const SpeculativeSequence> sequences,
                                    std::vector<SpeculativeOutcome>* outcomes, ForwardStats*) {
  if (!cache_.has_value()) return absl::FailedPreconditionError("no KV cache allocated");
  GEMMA_CUDA_RETURN_IF_ERROR(ValidateSpeculativeSequences(sequences, drafter_ != nullptr));
  outcomes->assign(sequences.size(), SpeculativeOutcome());
  // 1. One batched draft over the sequences that draft.
  std::vector<size_t> drafting;
  std::vector<DraftSequence> draft_rows;
  std::vector<int32_t> tokens;
  std::vector<float> hidden;
  int longest = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const SpeculativeSequence& seq = sequences[s];
    if (seq.num_draft_tokens == 0) continue;
    if (seq.hidden.size() != static_cast<size_t>(model_.config().hidden_size)) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, ": no target hidden state"));
    }
    drafting.push_back(s);
    draft_rows.push_back({seq.blocks, seq.position});
    tokens.push_back(seq.token);
    hidden.insert(hidden.end(), seq.hidden.begin(), seq.hidden.end());
    longest = std::max(longest, seq.num_draft_tokens);
  }
  if (!drafting.empty()) {
    std::vector<int32_t> drafts;
    GEMMA_CUDA_RETURN_IF_ERROR(
        drafter_->Draft(*cache_, draft_rows, tokens, hidden, longest, &drafts));
    for (size_t i = 0; i < drafting.size(); ++i) {
      const auto first = drafts.begin() + i * longest;
      (*outcomes)[drafting[i]].drafts.assign(first,
                                             first + sequences[drafting[i]].num_draft_tokens);
    }
  }
  // 2. One target pass over every sequence's k + 1 positions; 3. acceptance on the host.
  std::vector<std::vector<int32_t>> inputs(sequences.size());
  std::vector<ForwardChunk> chunks;
  for (size_t s = 0; s < sequences.size(); ++s) {
    inputs[s].push_back(sequences[s].token);
    inputs[s].insert(inputs[s].end(), (*outcomes)[s].drafts.begin(), (*outcomes)[s].drafts.end());
    chunks.push_back({inputs[s], sequences[s].position, sequences[s].blocks, /*all_logits=*/true});
  }
  std::vector<float> logits, verified_hidden;
  GEMMA_CUDA_RETURN_IF_ERROR(model_.Forward(chunks, *cache_, &logits, &verified_hidden));
  AcceptVerified(sequences, logits, verified_hidden, model_.config().vocab_size,
                 model_.config().hidden_size, outcomes);
  return absl::OkStatus();
}

}  // namespace gemma::cuda
