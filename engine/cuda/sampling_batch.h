// A batch of sampling requests flattened for the GPU sampler (sampling.h), on the host: the
// penalty step as per-(row, token) edits, and per row the parameters and its seeded uniform.
// The semantics are the CPU sampler's (engine/sampler.h), step for step:
//   suppressed -> -inf; repetition penalty over prompt and output tokens; presence / frequency
//   over output tokens; temperature 0 -> argmax; else top-k / top-p over the logits sorted
//   descending (ties: lower id first) or, with neither, the vocabulary in token order; min-p;
//   the draw is the first token whose cumulative probability exceeds SeededUniform(seed, index, 0).
// Pure C++ (no CUDA): tested on every machine.
#ifndef GEMMA_ENGINE_CUDA_SAMPLING_BATCH_H_
#define GEMMA_ENGINE_CUDA_SAMPLING_BATCH_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/cuda/penalty_edit.h"
#include "engine/sampler.h"

namespace gemma::cuda {

struct SamplingRequest {
  const SamplingParams* params = nullptr;
  const PenaltyState* penalties = nullptr;  // May be null: no penalties.
  uint64_t index = 0;                       // Output index of the token (the seed's counter).
};

struct SamplingBatch {
  int rows = 0;
  // Edits: logits[row, token] = suppress ? -inf : penalised (see ApplyEdit).
  std::vector<int32_t> edit_row, edit_token;
  std::vector<uint8_t> edit_suppress;
  std::vector<float> edit_repetition;  // 1: no repetition penalty for this token.
  std::vector<float> edit_subtract;    // presence + frequency * count (0 unless in the output).
  // Per row.
  std::vector<float> temperature, top_p, min_p;
  std::vector<int32_t> top_k;   // 0 when off or >= vocab.
  std::vector<uint8_t> sorted;  // Needs the sorted order (top-k or top-p).
  std::vector<double> uniform;
};

SamplingBatch BuildSamplingBatch(absl::Span<const SamplingRequest> requests, int vocab);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_SAMPLING_BATCH_H_
