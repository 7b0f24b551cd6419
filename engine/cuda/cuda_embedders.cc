#include "engine/cuda/cuda_embedders.h"

#include <algorithm>
#include <utility>

#include "engine/cuda/kernels.h"
#include "engine/cuda/layer_ops.h"

namespace gemma::cuda {

absl::StatusOr<CudaEmbedders> CudaEmbedders::Upload(const Gemma4Embedders& cpu,
                                                    const Gemma4Config& c) {
  CudaEmbedders embedders;
  embedders.config_ = c;
  if (cpu.image.has_value()) {
    const ImageEmbedderWeights& w = *cpu.image;
    Image& image = embedders.image_.emplace();
    for (auto [host, device] : {std::pair{&w.ln1_weight, &image.ln1_weight},
                                {&w.ln1_bias, &image.ln1_bias},
                                {&w.dense_bias, &image.dense_bias},
                                {&w.ln2_weight, &image.ln2_weight},
                                {&w.ln2_bias, &image.ln2_bias},
                                {&w.positions, &image.positions},
                                {&w.pos_norm_weight, &image.pos_norm_weight},
                                {&w.pos_norm_bias, &image.pos_norm_bias}}) {
      GEMMA_CUDA_RETURN_IF_ERROR(device->Upload(*host));
    }
    GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(w.dense, image.dense));
    GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(w.projection, image.projection));
  }
  if (cpu.audio.has_value()) {
    GEMMA_CUDA_RETURN_IF_ERROR(
        UploadBf16(cpu.audio->projection, embedders.audio_.emplace().projection));
  }
  return embedders;
}

absl::Status CudaEmbedders::Grow(size_t input_elements, size_t hidden_rows) {
  const size_t normed = std::max(input_elements, hidden_rows * config_.hidden_size) * 2;
  if (normed_.bytes() < normed) GEMMA_CUDA_RETURN_IF_ERROR(normed_.Allocate(normed));
  const size_t dense = hidden_rows * config_.hidden_size * sizeof(float);
  if (dense_.bytes() < dense) GEMMA_CUDA_RETURN_IF_ERROR(dense_.Allocate(dense));
  return absl::OkStatus();
}

absl::Status CudaEmbedders::EnqueueImage(const Gemm& gemm, const float* patches, int count,
                                         int grid_width, float* out, cudaStream_t stream) {
  if (!image_.has_value()) return absl::InvalidArgumentError("this model has no image embedder");
  const Image& w = *image_;
  const int h = config_.hidden_size, p = config_.media.patch_dim;
  GEMMA_CUDA_RETURN_IF_ERROR(Grow(static_cast<size_t>(count) * p, count));
  uint16_t* normed = normed_.as<uint16_t>();
  GEMMA_CUDA_RETURN_IF_ERROR(
      CudaStatus(LaunchLayerNormToBf16(patches, w.ln1_weight.as<float>(), w.ln1_bias.as<float>(),
                                       count, p, 1e-5f, normed, stream),
                 "patch LayerNorm"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      gemm.Run(w.dense.as<uint16_t>(), normed, dense_.as<float>(), count, h, p, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
      LaunchImagePostDense(dense_.as<float>(), w.dense_bias.as<float>(), w.ln2_weight.as<float>(),
                           w.ln2_bias.as<float>(), w.positions.as<float>(),
                           w.pos_norm_weight.as<float>(), w.pos_norm_bias.as<float>(), count, h,
                           grid_width, normed, stream),
      "image norms and positions"));
  return gemm.Run(w.projection.as<uint16_t>(), normed, out, count, h, h, stream);
}

absl::Status CudaEmbedders::EnqueueAudio(const Gemm& gemm, const float* frames, int count,
                                         float* out, cudaStream_t stream) {
  if (!audio_.has_value()) return absl::InvalidArgumentError("this model has no audio embedder");
  const int h = config_.hidden_size, frame = config_.media.audio_frame;
  GEMMA_CUDA_RETURN_IF_ERROR(Grow(static_cast<size_t>(count) * frame, count));
  GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
      LaunchRmsNormToBf16(frames, nullptr, count, frame, 1e-6f, normed_.as<uint16_t>(), stream),
      "audio RMSNorm"));
  return gemm.Run(audio_->projection.as<uint16_t>(), normed_.as<uint16_t>(), out, count, h, frame,
                  stream);
}

}  // namespace gemma::cuda
