// What the GPU target model and the GPU MTP drafter share: a decoder layer's weights on the
// device and the feed-forward half of a layer. Internal to engine/cuda.
#ifndef GEMMA_ENGINE_CUDA_LAYER_OPS_H_
#define GEMMA_ENGINE_CUDA_LAYER_OPS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "engine/cpu/matrix.h"
#include "engine/cuda/device.h"
#include "engine/cuda/gemm.h"
#include "engine/model/gemma4.h"

namespace gemma::cuda {

// Norms f32, matrices bf16; k, v, k_norm empty where the layer has none (k_eq_v full layers have
// no v; drafter layers have queries only).
struct DeviceLayer {
  LayerType type = LayerType::kSliding;
  DeviceBuffer input_norm, post_attention_norm, pre_ffn_norm, post_ffn_norm, q_norm, k_norm;
  DeviceBuffer q, k, v, o, gate, up, down;
  float layer_scalar = 1.f;
};

// A matrix in its stored dtype -> bf16 on the device.
absl::Status UploadBf16(const Matrix& m, DeviceBuffer& out);

// Uploads one layer; adds the bytes of its matrices to *matrix_bytes.
absl::Status UploadLayer(const Gemma4LayerWeights& from, DeviceLayer* to, size_t* matrix_bytes);

// Buffers the feed-forward half needs, each for at least `rows` rows.
struct FeedForwardScratch {
  uint16_t* x;          // bf16 [rows, H]
  float* gate;          // f32 [rows, I]
  float* up;            // f32 [rows, I]
  uint16_t* activated;  // bf16 [rows, I]
  float* projected;     // f32 [rows, H]
};

// Sums a device buffer over the tensor-parallel ranks (enqueued on the step's stream).
using DeviceAllReduce = std::function<absl::Status(float* data, size_t count)>;

// h = (h + RMSNorm_postffn(down(gelu(gate(x)) * up(x)))) * layer_scalar, x = RMSNorm_preffn(h),
// on `rows` rows of h [rows, H], enqueued on `stream`. With `reduce` (tensor parallelism: this
// rank's MLP shard, `config` its ShardConfig), the down projection's partial sums are summed
// over the ranks before the norm.
absl::Status EnqueueFeedForward(const Gemm& gemm, const DeviceLayer& layer,
                                const Gemma4Config& config, int rows, float* h,
                                const FeedForwardScratch& scratch, cudaStream_t stream,
                                const DeviceAllReduce* reduce = nullptr);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_LAYER_OPS_H_
