// The GPU model behind the worker's backend interface (engine/backend.h): CudaGemma4Model, its
// CudaGemma4Drafter and a CudaKvCache. A speculative step drafts every drafting sequence in one
// batched drafter call (the longest k; shorter ones keep a prefix), verifies all sequences in
// one GPU pass and accepts on the host (AcceptVerified). Under tensor parallelism every rank
// runs the same calls (the model's collectives keep them in step); no drafter there yet.
#ifndef GEMMA_ENGINE_CUDA_CUDA_BACKEND_H_
#define GEMMA_ENGINE_CUDA_CUDA_BACKEND_H_

#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_drafter.h"
#include "engine/cuda/cuda_model.h"

namespace gemma::cuda {

class CudaBackend : public ModelBackend {
 public:
  // `model` and `drafter` (may be null) must outlive the backend.
  CudaBackend(CudaGemma4Model& model, CudaGemma4Drafter* drafter);

  const Gemma4Config& config() const override { return model_.config(); }
  const Gemma4Config& shard_config() const override { return model_.shard_config(); }
  const TensorParallel& tensor_parallel() const override { return model_.tensor_parallel(); }
  std::string device() const override { return device_; }
  std::string weight_dtype() const override { return "bf16"; }
  size_t kv_element_bytes() const override { return sizeof(uint16_t); }
  bool has_drafter() const override { return drafter_ != nullptr; }

  absl::Status AllocateCache(const KvCacheOptions& options) override;
  void ReleaseCache() override { cache_.reset(); }
  bool has_cache() const override { return cache_.has_value(); }

  absl::Status Forward(absl::Span<const ForwardChunk> chunks, std::vector<float>* logits,
                       std::vector<float>* hidden, ForwardStats* stats) override;
  absl::Status Speculate(absl::Span<const SpeculativeSequence> sequences,
                         std::vector<SpeculativeOutcome>* outcomes, ForwardStats* stats) override;

 private:
  CudaGemma4Model& model_;
  CudaGemma4Drafter* const drafter_;
  std::string device_;
  std::optional<CudaKvCache> cache_;
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_CUDA_BACKEND_H_
