// The 12B's encoder-free embedders: images as 48x48 patches and audio as 640-sample frames, each
// projected straight into the decoder's hidden size. Spec: shared/reference/
// gemma4-architecture.md section 4.5. Tensor names as in google/gemma-4-12B checkpoints
// ("model.vision_embedder.*", "model.embed_vision.embedding_projection.weight",
// "model.embed_audio.embedding_projection.weight"), with the "model.embed_vision.*" /
// "...multimodal_embedder.embedding_projection" spellings of other transformers versions accepted.
//
//   image patch p (values in [0, 1], (y, x, c) order) at grid position (x, y):
//     LayerNorm_1e-5(p) -> Linear+bias -> LayerNorm_1e-5 -> + pos[x][0] + pos[y][1]
//     -> LayerNorm_1e-5 -> RMSNorm without weight (1e-6) -> Linear (no bias)
//   audio frame f (640 samples): RMSNorm without weight (1e-6) -> Linear (no bias)
// Soft tokens are not scaled by sqrt(hidden) (text embeddings are).
#ifndef GEMMA_ENGINE_MODEL_GEMMA4_EMBEDDERS_H_
#define GEMMA_ENGINE_MODEL_GEMMA4_EMBEDDERS_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cpu/matrix.h"
#include "engine/model/checkpoint.h"
#include "engine/model/gemma4_config.h"

namespace gemma {

struct ImageEmbedderWeights {
  std::vector<float> ln1_weight, ln1_bias;  // f32 [patch_dim]
  Matrix dense;                             // [H, patch_dim]
  std::vector<float> dense_bias;            // f32 [H]
  std::vector<float> ln2_weight, ln2_bias;  // f32 [H]
  std::vector<float> positions;             // f32 [table_size, 2, H]
  std::vector<float> pos_norm_weight, pos_norm_bias;  // f32 [H]
  Matrix projection;                        // [H, H]
};

struct AudioEmbedderWeights {
  Matrix projection;  // [H, audio_frame]
};

struct Gemma4Embedders {
  std::optional<ImageEmbedderWeights> image;
  std::optional<AudioEmbedderWeights> audio;
};

// Loads the embedders the config declares (none for GGUF checkpoints). Errors name the tensor.
absl::StatusOr<Gemma4Embedders> LoadGemma4Embedders(const Checkpoint& checkpoint);

// out: [num_patches, H]. Patch i sits at (x = i % grid_width, y = i / grid_width).
void EmbedImage(const ImageEmbedderWeights& weights, const Gemma4Config& config,
                const float* patches, int num_patches, int grid_width, float* out);

// out: [num_frames, H].
void EmbedAudio(const AudioEmbedderWeights& weights, const Gemma4Config& config,
                const float* frames, int num_frames, float* out);

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_GEMMA4_EMBEDDERS_H_
