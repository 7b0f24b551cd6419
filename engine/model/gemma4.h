// The Gemma 4 text decoder (12B family) on the CPU: weights from a Checkpoint and the forward
// pass over a batch of sequence chunks with a paged KV cache. Math: shared/reference/
// gemma4-architecture.md sections 2 and 7 (Hugging Face semantics, all arithmetic in f32).
//
// A step is a list of chunks, each a run of consecutive positions of one sequence: a prefill
// chunk has many tokens, a decode chunk one. Matrix products run over all tokens of the step at
// once; attention runs per chunk against that sequence's cached keys, so results do not depend
// on what else is in the batch. Thread-safe for concurrent Forward calls on disjoint KV blocks.
#ifndef GEMMA_ENGINE_MODEL_GEMMA4_H_
#define GEMMA_ENGINE_MODEL_GEMMA4_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/matrix.h"
#include "engine/kv_cache.h"
#include "engine/model/checkpoint.h"
#include "engine/model/gemma4_config.h"
#include "engine/model/gemma4_embedders.h"
#include "engine/model/tensor_parallel.h"
#include "parallel/communicator.h"

namespace gemma {

struct Gemma4LayerWeights {
  LayerType type = LayerType::kSliding;
  std::vector<float> input_norm;           // f32 [H]
  std::vector<float> post_attention_norm;  // f32 [H]
  std::vector<float> pre_ffn_norm;         // f32 [H]
  std::vector<float> post_ffn_norm;        // f32 [H]
  std::vector<float> q_norm;               // f32 [d]
  std::vector<float> k_norm;               // f32 [d]
  Matrix q;     // [nH * d, H]
  Matrix k;     // [nKV * d, H]
  Matrix v;     // [nKV * d, H]; empty on k_eq_v full layers (V is the raw K projection).
  Matrix o;     // [H, nH * d]
  Matrix gate;  // [I, H]
  Matrix up;    // [I, H]
  Matrix down;  // [H, I]
  float layer_scalar = 1.f;
};

struct Gemma4Weights {
  Matrix embed;                  // [vocab, H]; also the tied LM head.
  float embed_scale = 1.f;       // sqrt(H) rounded to the embedding's dtype (bf16: 62 on 12B).
  std::vector<float> final_norm; // f32 [H]
  std::vector<Gemma4LayerWeights> layers;
};

enum class MediaKind { kImage, kAudio };

constexpr int32_t kImageSoftToken = 258880;  // <|image|>
constexpr int32_t kAudioSoftToken = 258881;  // <|audio|>

// One image or audio clip inside a chunk: positions [position, position + num_tokens) hold its
// placeholder tokens and take its soft-token embeddings. On sliding-window layers the positions
// of one image attend to each other in both directions during the pass that contains them (the
// 12B's vision mask, transformers' Gemma4Unified path; full layers stay causal).
struct MediaSpan {
  MediaKind kind = MediaKind::kImage;
  int position = 0;
  int num_tokens = 0;
  const float* features = nullptr;  // Image: f32 [num_tokens, patch_dim], values in [0, 1].
                                    // Audio: f32 [num_tokens, audio_frame], 16 kHz samples.
  int grid_width = 0;               // Image: patches per row.
};

// One sequence's tokens in a step: positions [start_position, start_position + tokens.size()).
struct ForwardChunk {
  absl::Span<const int32_t> tokens;
  int start_position = 0;
  const BlockTables* blocks = nullptr;  // Must cover every position the chunk reads or writes.
  bool all_logits = false;              // Logits for every position; else only the last one.
  absl::Span<const MediaSpan> media;    // Wholly inside the chunk, in position order.
};

struct ForwardOptions {
  cpu::Gelu gelu = cpu::Gelu::kTanh;
};

struct ForwardStats {
  int64_t communication_ns = 0;  // Time inside collectives (tensor parallelism), including:
  int64_t logits_gather_ns = 0;  // the all-gather of the LM head's vocabulary slices.
};

// RoPE inverse frequencies theta^(-2i / head_dim) for the rotated pairs of a layer type.
std::vector<float> RopeInverseFrequencies(const AttentionGeometry& geometry);

// The second half of a decoder layer, in place on `rows` rows of h [rows, H]:
//   h = (h + RMSNorm_postffn(MLP(RMSNorm_preffn(h)))) * layer_scalar.
// With a communicator, `layer` holds this rank's shard (config its ShardConfig) and the down
// projection's partial sums are all-reduced before the norm; `stats` adds the time spent there.
absl::Status FeedForwardBlock(const Gemma4LayerWeights& layer, const Gemma4Config& config,
                              int rows, cpu::Gelu gelu, float* h,
                              parallel::Communicator* communicator = nullptr,
                              ForwardStats* stats = nullptr);

// Loads one decoder layer's norms and projections (k/v when `with_kv`) under "layers.<i>.";
// with tp.world_size > 1, only rank tp.rank's shard (tensor_parallel.h), row-parallel slices
// copied into `storage`.
absl::Status LoadLayerWeights(const Checkpoint& checkpoint, const Gemma4Config& config, int index,
                              bool with_kv, Gemma4LayerWeights* layer,
                              const TensorParallel& tp = {},
                              std::vector<std::unique_ptr<uint8_t[]>>* storage = nullptr);

// INVALID_ARGUMENT unless every media span of `chunk` (index `index` in its step) has features,
// sits on its placeholder tokens inside the chunk without overlapping another, fits the image
// position table, and has an embedder in this model. Shared by the CPU and GPU backends.
absl::Status ValidateMediaSpans(const ForwardChunk& chunk, size_t index, const Gemma4Config& config,
                                bool has_image, bool has_audio);

class Gemma4Model {
 public:
  // `path`: an HF model directory or a .gguf file. With tp.world_size > 1 this rank keeps only
  // its shard (tensor_parallel.h) and Forward runs the group's collectives: every rank must call
  // Forward with the same chunks, in the same order.
  static absl::StatusOr<std::unique_ptr<Gemma4Model>> Load(const std::string& path,
                                                           const TensorParallel& tp = {});

  const Gemma4Config& config() const { return checkpoint_->config(); }
  // This rank's dimensions (equal to config() without tensor parallelism): size KV caches by it.
  const Gemma4Config& shard_config() const { return shard_config_; }
  const TensorParallel& tensor_parallel() const { return tp_; }
  // First vocabulary row of this rank's embedding shard (weights().embed holds its rows).
  int64_t vocab_begin() const { return vocab_begin_; }
  const Gemma4Weights& weights() const { return weights_; }
  const Gemma4Embedders& embedders() const { return embedders_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }

  // Runs one step, writing K/V of every chunk position into `cache`. `logits` receives, chunk by
  // chunk, one row of vocab_size per requested position (softcapped). INVALID_ARGUMENT for a
  // token id out of range, a position past the context, block tables that miss a position, or
  // media that do not sit on their placeholder tokens inside the chunk.
  // With `hidden`, also returns the final-normed hidden state of each logits row ([rows, H]; the
  // MTP drafter's input).
  // UNAVAILABLE when a peer rank fails during the step's collectives.
  absl::Status Forward(absl::Span<const ForwardChunk> chunks, KvCache& cache,
                       std::vector<float>* logits, const ForwardOptions& options = {},
                       std::vector<float>* hidden = nullptr, ForwardStats* stats = nullptr) const;

 private:
  Gemma4Model(std::unique_ptr<Checkpoint> checkpoint, const TensorParallel& tp);
  absl::Status LoadWeights();

  std::unique_ptr<Checkpoint> checkpoint_;
  absl::Status ValidateMedia(const ForwardChunk& chunk, size_t index) const;

  TensorParallel tp_;
  Gemma4Config shard_config_;
  int64_t vocab_begin_ = 0;  // This rank's rows of the embedding: [vocab_begin_, + embed.rows).
  std::vector<std::unique_ptr<uint8_t[]>> owned_;  // Row-parallel slices (column copies).
  Gemma4Weights weights_;  // This rank's shard.
  Gemma4Embedders embedders_;
  std::vector<float> sliding_inv_freq_;
  std::vector<float> full_inv_freq_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_GEMMA4_H_
