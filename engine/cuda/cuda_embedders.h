// The 12B's encoder-free image and audio embedders on the GPU (math:
// engine/model/gemma4_embedders.h): image patches -> LayerNorm -> dense + bias -> LayerNorm ->
// + 2-D position rows -> LayerNorm -> weightless RMSNorm -> projection; audio frames ->
// weightless RMSNorm -> projection. Matrices bf16 (GEMM inputs rounded to bf16), norms f32.
#ifndef GEMMA_ENGINE_CUDA_CUDA_EMBEDDERS_H_
#define GEMMA_ENGINE_CUDA_CUDA_EMBEDDERS_H_

#include <cuda_runtime_api.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/cuda/device.h"
#include "engine/cuda/gemm.h"
#include "engine/model/gemma4_embedders.h"

namespace gemma::cuda {

class CudaEmbedders {
 public:
  // Uploads whichever embedders the CPU loader found.
  static absl::StatusOr<CudaEmbedders> Upload(const Gemma4Embedders& cpu, const Gemma4Config& c);

  bool has_image() const { return image_.has_value(); }
  bool has_audio() const { return audio_.has_value(); }

  // out: f32 [count, H] soft-token embeddings of `count` patches / frames already on the device
  // (f32 [count, patch_dim] / [count, audio_frame]). Enqueued on `stream`; the scratch grows.
  absl::Status EnqueueImage(const Gemm& gemm, const float* patches, int count, int grid_width,
                            float* out, cudaStream_t stream);
  absl::Status EnqueueAudio(const Gemm& gemm, const float* frames, int count, float* out,
                            cudaStream_t stream);

 private:
  struct Image {
    DeviceBuffer ln1_weight, ln1_bias, dense, dense_bias, ln2_weight, ln2_bias, positions,
        pos_norm_weight, pos_norm_bias, projection;
  };
  struct Audio {
    DeviceBuffer projection;
  };
  absl::Status Grow(size_t input_elements, size_t hidden_rows);

  Gemma4Config config_;
  std::optional<Image> image_;
  std::optional<Audio> audio_;
  DeviceBuffer normed_;  // bf16 inputs of the dense / projection GEMMs
  DeviceBuffer dense_;   // f32 [count, H]
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_CUDA_EMBEDDERS_H_
