// What a worker rank needs from a model on some device (the CPU engine, engine/cuda): the step
// contract of Gemma4Model::Forward and SpeculativeStep, over a KV cache the backend owns. Block
// tables mean the same on every backend (kv_cache.h). Thread-compatible: one call at a time.
#ifndef GEMMA_ENGINE_BACKEND_H_
#define GEMMA_ENGINE_BACKEND_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"
#include "engine/speculative_step.h"

namespace gemma {

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;

  virtual const Gemma4Config& config() const = 0;        // The whole model.
  virtual const Gemma4Config& shard_config() const = 0;  // This rank's heads and MLP width.
  virtual const TensorParallel& tensor_parallel() const = 0;
  virtual std::string device() const = 0;        // "cpu", or the GPU's name.
  virtual std::string weight_dtype() const = 0;  // As stored on the device: "f32", "bf16", ...
  virtual size_t kv_element_bytes() const = 0;   // Bytes per cached K or V value.
  virtual bool has_drafter() const = 0;

  // Replaces the KV cache with empty pools of the given sizes (RESOURCE_EXHAUSTED when the
  // device cannot hold them); ReleaseCache drops it.
  virtual absl::Status AllocateCache(const KvCacheOptions& options) = 0;
  virtual void ReleaseCache() = 0;
  virtual bool has_cache() const = 0;

  // As Gemma4Model::Forward / SpeculativeStep on the backend's cache (FAILED_PRECONDITION
  // without one). `hidden` may be null.
  virtual absl::Status Forward(absl::Span<const ForwardChunk> chunks, std::vector<float>* logits,
                               std::vector<float>* hidden, ForwardStats* stats) = 0;
  virtual absl::Status Speculate(absl::Span<const SpeculativeSequence> sequences,
                                 std::vector<SpeculativeOutcome>* outcomes,
                                 ForwardStats* stats) = 0;
};

// The CPU engine behind the interface. `model` and `drafter` (may be null) must outlive it.
class CpuBackend : public ModelBackend {
 public:
  CpuBackend(const Gemma4Model& model, const Drafter* drafter) : model_(model), drafter_(drafter) {}

  const Gemma4Config& config() const override { return model_.config(); }
  const Gemma4Config& shard_config() const override { return model_.shard_config(); }
  const TensorParallel& tensor_parallel() const override { return model_.tensor_parallel(); }
  std::string device() const override { return "cpu"; }
  std::string weight_dtype() const override;
  size_t kv_element_bytes() const override { return sizeof(float); }
  bool has_drafter() const override { return drafter_ != nullptr; }

  absl::Status AllocateCache(const KvCacheOptions& options) override;
  void ReleaseCache() override { cache_.reset(); }
  bool has_cache() const override { return cache_.has_value(); }

  absl::Status Forward(absl::Span<const ForwardChunk> chunks, std::vector<float>* logits,
                       std::vector<float>* hidden, ForwardStats* stats) override;
  absl::Status Speculate(absl::Span<const SpeculativeSequence> sequences,
                         std::vector<SpeculativeOutcome>* outcomes, ForwardStats* stats) override;

 private:
  const Gemma4Model& model_;
  const Drafter* const drafter_;
  std::optional<KvCache> cache_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_BACKEND_H_
