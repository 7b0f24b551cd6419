// Gemma 4's Multi-Token-Prediction drafter ("assistant" checkpoint, gemma4_unified_assistant for
// the 12B). Spec: shared/reference/gemma4-architecture.md section 6.
//
// One draft step for a sequence whose last committed token t sits at position p (not yet in the
// target's KV cache) and whose target hidden state g is the target's final-normed hidden at
// position p - 1 (the row that produced t):
//   x = pre_projection([E_target[t] * embed_scale_target ; g])
//   4 decoder layers whose attention has queries only (q_proj -> q_norm -> RoPE at p) and reads the
//   target's cached K/V: sliding layers the last target sliding layer, the full layer the last
//   target full layer, keys j < p (sliding: also j > p - W)
//   n = RMSNorm_final(x); draft = argmax(n . E_drafter^T); g' = post_projection(n)
// The next step feeds the draft and g'. The position stays p for every step, as the reference
// implementation (transformers' assisted decoding) does. Drafts are proposals only: the target
// verifies them, so any drafter choice keeps the output distribution exact. Thread-compatible.
#ifndef GEMMA_ENGINE_MODEL_GEMMA4_DRAFTER_H_
#define GEMMA_ENGINE_MODEL_GEMMA4_DRAFTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"

namespace gemma {

// What the speculative step needs from any drafter (tests substitute their own).
class Drafter {
 public:
  virtual ~Drafter() = default;
  // Proposes `count` tokens after `token` (at `position`) for a sequence of `target`.
  virtual absl::Status Draft(const Gemma4Model& target, const KvCache& cache,
                             const BlockTables& blocks, int32_t token, int position,
                             absl::Span<const float> target_hidden, int count,
                             std::vector<int32_t>* drafts) const = 0;
};

class Gemma4Drafter : public Drafter {
 public:
  // Loads a drafter (HF directory or gemma4-assistant GGUF) and checks it fits `target` (backbone
  // width, head dims, KV heads, vocabulary, sliding window). INVALID_ARGUMENT names the mismatch.
  // With a sharded target the drafter is sharded the same way (tensor_parallel.h): its query heads
  // read this rank's KV heads of the target cache; projections and the projection matrices between
  // target and drafter are replicated; its LM head is vocab-parallel with a distributed argmax.
  static absl::StatusOr<std::unique_ptr<Gemma4Drafter>> Load(const std::string& path,
                                                             const Gemma4Model& target);
  // The same against a target known by its config and sharding (the GPU backend's).
  static absl::StatusOr<std::unique_ptr<Gemma4Drafter>> Load(const std::string& path,
                                                             const Gemma4Config& target,
                                                             const TensorParallel& tp);

  absl::Status Draft(const Gemma4Model& target, const KvCache& cache, const BlockTables& blocks,
                     int32_t token, int position, absl::Span<const float> target_hidden, int count,
                     std::vector<int32_t>* drafts) const override;

  // Draft with the MLP's GELU chosen (ForwardOptions::gelu: comparisons with llama.cpp use its
  // table) and, when `step_logits` is given, each step's logits appended to it ([count, this
  // rank's vocabulary slice], no softcap, as the reference computes them).
  absl::Status DraftWithLogits(const Gemma4Model& target, const KvCache& cache,
                               const BlockTables& blocks, int32_t token, int position,
                               absl::Span<const float> target_hidden, int count, cpu::Gelu gelu,
                               std::vector<int32_t>* drafts, std::vector<float>* step_logits) const;

  const Gemma4Config& config() const { return checkpoint_->config(); }
  // This rank's weights, in their stored dtype (other backends upload them).
  const Matrix& embed() const { return embed_; }
  const std::vector<float>& final_norm() const { return final_norm_; }
  const Matrix& pre_projection() const { return pre_projection_; }
  const Matrix& post_projection() const { return post_projection_; }
  const std::vector<Gemma4LayerWeights>& layers() const { return layers_; }
  // The target layer whose KV cache each drafter layer reads.
  const std::vector<int>& source_layers() const { return source_layer_; }

 private:
  explicit Gemma4Drafter(std::unique_ptr<Checkpoint> checkpoint);

  std::unique_ptr<Checkpoint> checkpoint_;
  TensorParallel tp_;
  Gemma4Config shard_config_;                      // This rank's heads and MLP width.
  int64_t vocab_begin_ = 0;                        // First row of embed_ in the whole vocabulary.
  std::vector<std::unique_ptr<uint8_t[]>> owned_;  // Row-parallel slices.
  Matrix embed_;                   // [vocab / N, h_a]: this rank's rows of the LM head.
  std::vector<float> final_norm_;  // f32 [h_a]
  Matrix pre_projection_;          // [h_a, 2 * H_target]
  Matrix post_projection_;         // [H_target, h_a]
  std::vector<Gemma4LayerWeights> layers_;
  std::vector<int> source_layer_;  // Target layer whose KV each drafter layer reads.
  std::vector<float> sliding_inv_freq_, full_inv_freq_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_GEMMA4_DRAFTER_H_
