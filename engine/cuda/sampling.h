// Token selection on the GPU for a batch of logits rows already on the device, with the CPU
// sampler's semantics (sampling_batch.h): the same seed and output index give the same token
// (up to summation-order rounding at a probability boundary, ~1e-16). Sorting for top-k /
// top-p is a segmented radix sort (CUB; stable, so ties keep the lower id first, as the CPU).
// Log-probabilities stay on the host path. Thread-compatible; one stream at a time.
#ifndef GEMMA_ENGINE_CUDA_SAMPLING_H_
#define GEMMA_ENGINE_CUDA_SAMPLING_H_

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/cuda/device.h"
#include "engine/cuda/sampling_batch.h"

namespace gemma::cuda {

class CudaSampler {
 public:
  // logits: device f32 [batch.rows, vocab], modified in place (penalties). tokens: host.
  absl::Status Sample(float* logits, int vocab, const SamplingBatch& batch,
                      std::vector<int32_t>* tokens, cudaStream_t stream);

 private:
  DeviceBuffer edit_row_, edit_token_, edit_suppress_, edit_repetition_, edit_subtract_;
  DeviceBuffer temperature_, top_k_, top_p_, min_p_, sorted_, uniform_;
  DeviceBuffer raw_best_, best_, drawn_, tokens_;
  DeviceBuffer ids_, sorted_logits_, sorted_ids_, offsets_, sort_temp_;
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_SAMPLING_H_
