// Gemma 4 text-decoder hyper-parameters, read from a Hugging Face config.json (model_type
// gemma4_unified / gemma4 / gemma4_text, text fields possibly nested under "text_config") or from
// GGUF metadata (arch "gemma4"). Spec: shared/reference/gemma4-architecture.md sections 1-2.
//
// Implemented: the 12B / 31B family (dense MLP, k_eq_v full layers, proportional RoPE on full
// layers, sliding window, layer_scalar, final softcap). Rejected with UNIMPLEMENTED: per-layer
// embeddings (E2B/E4B), KV-shared layers, double-wide MLP, MoE (26B-A4B).
#ifndef GEMMA_ENGINE_MODEL_GEMMA4_CONFIG_H_
#define GEMMA_ENGINE_MODEL_GEMMA4_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/io/gguf.h"

namespace gemma {

enum class LayerType { kSliding, kFull };

struct AttentionGeometry {
  int num_kv_heads = 0;
  int head_dim = 0;
  float rope_theta = 0;
  // Frequency pairs that rotate, from the lowest; the rest pass through unrotated
  // (proportional RoPE: 0.25 * 512 / 2 = 64 on the 12B's full layers). Inverse frequencies are
  // theta^(-2i / head_dim) for i < rotated_pairs.
  int rotated_pairs = 0;
};

// The 12B's encoder-free embedders (config.json "vision_config" / "audio_config").
struct MediaConfig {
  bool has_vision = false;
  int model_patch_size = 48;  // Pixels per side of one soft token's patch.
  int patch_dim = 0;          // model_patch_size^2 * 3 values per patch, (y, x, channel) order.
  int position_table_size = 0;  // mm_posemb_size: rows of the 2-D position table per axis.
  int max_soft_tokens = 280;    // Default per-image budget.
  bool has_audio = false;
  int audio_frame = 640;  // Samples per soft token (40 ms at 16 kHz).
};

struct Gemma4Config {
  std::string architecture;  // e.g. "Gemma4UnifiedForConditionalGeneration"
  int vocab_size = 262144;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_heads = 0;
  std::vector<LayerType> layer_types;  // One per layer; the last is always kFull.
  AttentionGeometry sliding;
  AttentionGeometry full;
  int sliding_window = 0;        // W: key j visible to query i iff i - W < j <= i.
  bool attention_k_eq_v = false; // Full layers have no v_proj; V = raw K projection.
  float rms_norm_eps = 1e-6f;
  float final_logit_softcap = 30.f;  // 0: none.
  int max_position = 0;
  bool bidirectional_vision = false;  // use_bidirectional_attention == "vision"
  int pad_token_id = 0, eos_token_id = 1, bos_token_id = 2;
  MediaConfig media;
  // MTP drafters only: the target's hidden size (inputs are [target embedding ; target hidden]).
  int drafter_backbone_hidden_size = 0;

  int num_layers() const { return static_cast<int>(layer_types.size()); }
  const AttentionGeometry& geometry(LayerType type) const {
    return type == LayerType::kFull ? full : sliding;
  }
  // True when the layer of `type` has its own v_proj.
  bool has_v_proj(LayerType type) const { return !(type == LayerType::kFull && attention_k_eq_v); }
};

// Parses config.json text. INVALID_ARGUMENT names the missing or bad field; UNIMPLEMENTED names
// the unsupported feature.
absl::StatusOr<Gemma4Config> Gemma4ConfigFromHfJson(const std::string& json_text);

// An MTP drafter's config.json (model_type gemma4_assistant / gemma4_unified_assistant).
absl::StatusOr<Gemma4Config> Gemma4DrafterConfigFromHfJson(const std::string& json_text);

// Reads "gemma4.*" metadata. The full layers' rotated pairs come from the rope_freqs tensor
// (1.0 for rotated pairs, >= 1e29 for pass-through) when present.
absl::StatusOr<Gemma4Config> Gemma4ConfigFromGguf(const GgufFile& gguf);

// An MTP drafter's GGUF (arch "gemma4-assistant", llama.cpp's names): "gemma4-assistant.*" keys,
// embedding_length_out = the target's hidden size.
absl::StatusOr<Gemma4Config> Gemma4DrafterConfigFromGguf(const GgufFile& gguf);

absl::Status ValidateGemma4Config(const Gemma4Config& config);

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_GEMMA4_CONFIG_H_
