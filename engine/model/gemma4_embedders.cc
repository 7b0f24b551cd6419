#include "engine/model/gemma4_embedders.h"

#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/cpu/kernels.h"

namespace gemma {
namespace {

constexpr float kLayerNormEps = 1e-5f;
constexpr float kRmsNormEps = 1e-6f;

class Loader {
 public:
  explicit Loader(const Checkpoint& checkpoint) : checkpoint_(checkpoint) {}

  // The first of `names` present, checked against `shape`.
  absl::StatusOr<const TensorView*> Find(std::initializer_list<const char*> names,
                                         const std::vector<int64_t>& shape) {
    for (const char* name : names) {
      const TensorView* t = checkpoint_.FindStored(name);
      if (t == nullptr) continue;
      if (t->shape != shape) {
        return absl::InvalidArgumentError(absl::StrCat(checkpoint_.path(), ": tensor ", name,
                                                       " has shape ", ShapeString(t->shape),
                                                       ", expected ", ShapeString(shape)));
      }
      if (t->dtype == DType::kI32 || t->dtype == DType::kI64 || t->dtype == DType::kQ8_0) {
        return absl::InvalidArgumentError(absl::StrCat(checkpoint_.path(), ": tensor ", name,
                                                       " has unsupported dtype ",
                                                       DTypeName(t->dtype)));
      }
      return t;
    }
    return absl::NotFoundError(
        absl::StrCat(checkpoint_.path(), ": tensor ", *names.begin(), " is missing"));
  }

  absl::Status Vector(std::initializer_list<const char*> names, int64_t size,
                      std::vector<float>* out) {
    absl::StatusOr<const TensorView*> t = Find(names, {size});
    if (!t.ok()) return t.status();
    return Fill(**t, out);
  }

  absl::Status Matrix2D(std::initializer_list<const char*> names, int64_t rows, int64_t cols,
                        Matrix* out) {
    absl::StatusOr<const TensorView*> t = Find(names, {rows, cols});
    if (!t.ok()) return t.status();
    *out = Matrix{(*t)->dtype, rows, cols, (*t)->data};
    return absl::OkStatus();
  }

  static absl::Status Fill(const TensorView& t, std::vector<float>* out) {
    out->resize(t.num_elements());
    ConvertToF32(t.dtype, t.data, out->size(), out->data());
    return absl::OkStatus();
  }

 private:
  const Checkpoint& checkpoint_;
};

// Both spellings of a vision-embedder tensor name.
#define VISION(suffix) {"model.vision_embedder." suffix, "model.embed_vision." suffix}

}  // namespace

absl::StatusOr<Gemma4Embedders> LoadGemma4Embedders(const Checkpoint& checkpoint) {
  const Gemma4Config& c = checkpoint.config();
  Gemma4Embedders embedders;
  if (checkpoint.is_gguf()) return embedders;  // Media tensors travel in HF checkpoints only.
  Loader load(checkpoint);
  const int64_t h = c.hidden_size;
  absl::Status s;
  if (c.media.has_vision) {
    ImageEmbedderWeights w;
    const int64_t p = c.media.patch_dim;
    if (!(s = load.Vector(VISION("patch_ln1.weight"), p, &w.ln1_weight)).ok()) return s;
    if (!(s = load.Vector(VISION("patch_ln1.bias"), p, &w.ln1_bias)).ok()) return s;
    if (!(s = load.Matrix2D(VISION("patch_dense.weight"), h, p, &w.dense)).ok()) return s;
    if (!(s = load.Vector(VISION("patch_dense.bias"), h, &w.dense_bias)).ok()) return s;
    if (!(s = load.Vector(VISION("patch_ln2.weight"), h, &w.ln2_weight)).ok()) return s;
    if (!(s = load.Vector(VISION("patch_ln2.bias"), h, &w.ln2_bias)).ok()) return s;
    if (!(s = load.Vector(VISION("pos_norm.weight"), h, &w.pos_norm_weight)).ok()) return s;
    if (!(s = load.Vector(VISION("pos_norm.bias"), h, &w.pos_norm_bias)).ok()) return s;
    absl::StatusOr<const TensorView*> table =
        load.Find(VISION("pos_embedding"), {c.media.position_table_size, 2, h});
    if (!table.ok()) return table.status();
    if (!(s = Loader::Fill(**table, &w.positions)).ok()) return s;
    if (!(s = load.Matrix2D({"model.embed_vision.embedding_projection.weight",
                             "model.embed_vision.multimodal_embedder.embedding_projection.weight"},
                            h, h, &w.projection))
             .ok()) {
      return s;
    }
    embedders.image = std::move(w);
  }
  if (c.media.has_audio) {
    AudioEmbedderWeights w;
    if (!(s = load.Matrix2D({"model.embed_audio.embedding_projection.weight",
                             "model.embed_audio.multimodal_embedder.embedding_projection.weight"},
                            h, c.media.audio_frame, &w.projection))
             .ok()) {
      return s;
    }
    embedders.audio = std::move(w);
  }
  return embedders;
}

#undef VISION

void EmbedImage(const ImageEmbedderWeights& w, const Gemma4Config& c, const float* patches,
                int num_patches, int grid_width, float* out) {
  const int h = c.hidden_size, p = c.media.patch_dim;
  std::vector<float> normed(static_cast<size_t>(num_patches) * p);
  cpu::LayerNorm(patches, w.ln1_weight.data(), w.ln1_bias.data(), num_patches, p, kLayerNormEps,
                 normed.data());
  std::vector<float> x(static_cast<size_t>(num_patches) * h);
  cpu::MatMul(w.dense, normed.data(), num_patches, x.data());
  for (int i = 0; i < num_patches; ++i) {
    for (int d = 0; d < h; ++d) x[static_cast<size_t>(i) * h + d] += w.dense_bias[d];
  }
  cpu::LayerNorm(x.data(), w.ln2_weight.data(), w.ln2_bias.data(), num_patches, h, kLayerNormEps,
                 x.data());
  for (int i = 0; i < num_patches; ++i) {
    const int px = i % grid_width, py = i / grid_width;
    const float* x_row = &w.positions[(static_cast<size_t>(px) * 2 + 0) * h];
    const float* y_row = &w.positions[(static_cast<size_t>(py) * 2 + 1) * h];
    float* row = &x[static_cast<size_t>(i) * h];
    for (int d = 0; d < h; ++d) row[d] += x_row[d] + y_row[d];
  }
  cpu::LayerNorm(x.data(), w.pos_norm_weight.data(), w.pos_norm_bias.data(), num_patches, h,
                 kLayerNormEps, x.data());
  cpu::RmsNorm(x.data(), nullptr, num_patches, h, kRmsNormEps, x.data());
  cpu::MatMul(w.projection, x.data(), num_patches, out);
}

void EmbedAudio(const AudioEmbedderWeights& w, const Gemma4Config& c, const float* frames,
                int num_frames, float* out) {
  std::vector<float> normed(static_cast<size_t>(num_frames) * c.media.audio_frame);
  cpu::RmsNorm(frames, nullptr, num_frames, c.media.audio_frame, kRmsNormEps, normed.data());
  cpu::MatMul(w.projection, normed.data(), num_frames, out);
}

}  // namespace gemma
