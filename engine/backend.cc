#include "engine/backend.h"

#include "engine/dtype.h"

namespace gemma {

std::string CpuBackend::weight_dtype() const { return DTypeName(model_.weights().embed.dtype); }

absl::Status CpuBackend::AllocateCache(const KvCacheOptions& options) {
  cache_.reset();
  cache_.emplace(model_.shard_config(), options);
  return absl::OkStatus();
}

absl::Status CpuBackend::Forward(absl::Span<const ForwardChunk> chunks, std::vector<float>* logits,
                                 std::vector<float>* hidden, ForwardStats* stats) {
  if (!cache_.has_value()) return absl::FailedPreconditionError("no KV cache allocated");
  return model_.Forward(chunks, *cache_, logits, {}, hidden, stats);
}

absl::Status CpuBackend::Speculate(absl::Span<const SpeculativeSequence> sequences,
                                   std::vector<SpeculativeOutcome>* outcomes, ForwardStats* stats) {
  if (!cache_.has_value()) return absl::FailedPreconditionError("no KV cache allocated");
  return SpeculativeStep(model_, drafter_, *cache_, sequences, outcomes, {}, stats);
}

}  // namespace gemma
