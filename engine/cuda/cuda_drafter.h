// The MTP drafter on the GPU (math: engine/model/gemma4_drafter.h), batched over sequences: one
// draft step runs every sequence's row at once - pre_projection of [target embedding * scale ;
// g], 4 query-only layers over the target's GPU KV cache (each reads the last target layer of
// its type), final norm, the drafter's LM head, argmax; g' = post_projection(normed). The
// position stays fixed while drafting. Weights bf16 (GEMM inputs rounded to bf16), so drafts
// can differ from the CPU drafter's on near-ties; drafts are proposals the target verifies, so
// the output stays exact either way. Shares the target's stream and GEMM handle;
// thread-compatible. Tensor parallelism 1.
#ifndef GEMMA_ENGINE_CUDA_CUDA_DRAFTER_H_
#define GEMMA_ENGINE_CUDA_CUDA_DRAFTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/cuda/cuda_model.h"
#include "engine/cuda/device.h"
#include "engine/cuda/layer_ops.h"
#include "engine/cuda/step_plan.h"

namespace gemma::cuda {

class CudaGemma4Drafter {
 public:
  // An HF drafter directory or gemma4-assistant GGUF, checked against `target` as on the CPU.
  static absl::StatusOr<std::unique_ptr<CudaGemma4Drafter>> Load(const std::string& path,
                                                                 const CudaGemma4Model& target);
  ~CudaGemma4Drafter();

  // `count` drafts per sequence into drafts [rows, count] (callers wanting fewer keep a prefix).
  // Sequence r: last committed token tokens[r] at sequences[r].position (not yet cached),
  // hidden [rows, H] the target's final-normed hidden states that produced them (host f32).
  absl::Status Draft(const CudaKvCache& cache, absl::Span<const DraftSequence> sequences,
                     absl::Span<const int32_t> tokens, absl::Span<const float> hidden, int count,
                     std::vector<int32_t>* drafts);

  const Gemma4Config& config() const { return config_; }

 private:
  struct Scratch;
  CudaGemma4Drafter(const CudaGemma4Model& target, Gemma4Config config);

  const CudaGemma4Model& target_;
  Gemma4Config config_;
  DeviceBuffer embed_;  // bf16 [vocab, h_a]: the drafter's LM head.
  DeviceBuffer final_norm_, pre_projection_, post_projection_;
  std::vector<DeviceLayer> layers_;
  std::vector<int> source_layers_;
  DeviceBuffer sliding_inv_freq_, full_inv_freq_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_CUDA_DRAFTER_H_
