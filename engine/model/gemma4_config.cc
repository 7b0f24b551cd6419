#include "engine/model/gemma4_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

using Json = nlohmann::json;

absl::Status Missing(const std::string& field) {
  return absl::InvalidArgumentError(absl::StrCat("config.json: missing or invalid ", field));
}

template <typename T>
absl::Status Read(const Json& object, const std::string& field, T* out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null() || !(it->is_number() || it->is_boolean())) {
    return Missing(field);
  }
  *out = it->get<T>();
  return absl::OkStatus();
}

template <typename T>
T ReadOr(const Json& object, const std::string& field, T fallback) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null() || !(it->is_number() || it->is_boolean())) {
    return fallback;
  }
  return it->get<T>();
}

}  // namespace

absl::Status ValidateGemma4Config(const Gemma4Config& c) {
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("Gemma 4 config: ", why));
  };
  if (c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_heads <= 0 || c.vocab_size <= 0) {
    return bad("hidden_size, intermediate_size, num_attention_heads and vocab_size must be > 0");
  }
  if (c.layer_types.empty()) return bad("no layers");
  if (c.layer_types.back() != LayerType::kFull) return bad("the last layer must be full attention");
  for (const AttentionGeometry* g : {&c.sliding, &c.full}) {
    if (g->num_kv_heads <= 0 || g->head_dim <= 0 || g->head_dim % 2 != 0) {
      return bad("KV heads must be > 0 and head dims even");
    }
    if (c.num_heads % g->num_kv_heads != 0) {
      return bad(absl::StrCat(c.num_heads, " attention heads are not a multiple of ",
                              g->num_kv_heads, " KV heads"));
    }
    if (g->rotated_pairs < 0 || g->rotated_pairs > g->head_dim / 2 || g->rope_theta <= 0) {
      return bad("bad RoPE parameters");
    }
  }
  if (c.sliding_window <= 0) return bad("sliding_window must be > 0");
  if (c.max_position <= 0) return bad("max_position_embeddings must be > 0");
  return absl::OkStatus();
}

namespace {

// A target model's config (drafter = false) or an MTP drafter's ("*_assistant": every layer reads
// the target's KV cache, so KV sharing is expected there).
absl::StatusOr<Gemma4Config> ParseHfConfig(const std::string& json_text, bool drafter) {
  Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError("config.json: not a JSON object");
  }
  Gemma4Config config;
  if (root.contains("architectures") && root["architectures"].is_array() &&
      !root["architectures"].empty() && root["architectures"][0].is_string()) {
    config.architecture = root["architectures"][0].get<std::string>();
  }
  const std::string model_type = root.value("model_type", "");
  if (model_type.rfind("gemma4", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: model_type \"", model_type, "\" is not a Gemma 4 model"));
  }
  if ((model_type.find("assistant") != std::string::npos) != drafter) {
    return absl::InvalidArgumentError(
        drafter ? absl::StrCat("config.json: model_type \"", model_type,
                               "\" is not an MTP drafter (assistant) checkpoint")
                : "config.json: this is an MTP drafter (assistant) checkpoint, not a target model");
  }
  if (drafter) {
    config.drafter_backbone_hidden_size = ReadOr(root, "backbone_hidden_size", 0);
    if (config.drafter_backbone_hidden_size <= 0) return Missing("backbone_hidden_size");
    if (ReadOr(root, "use_ordered_embeddings", false)) {
      return absl::UnimplementedError(
          "drafters with ordered (centroid) embeddings (E2B/E4B assistants) are not implemented");
    }
  }
  const Json& text =
      root.contains("text_config") && root["text_config"].is_object() ? root["text_config"] : root;
  absl::Status s;
  int num_layers = 0;
  if (!(s = Read(text, "hidden_size", &config.hidden_size)).ok()) return s;
  if (!(s = Read(text, "intermediate_size", &config.intermediate_size)).ok()) return s;
  if (!(s = Read(text, "num_hidden_layers", &num_layers)).ok()) return s;
  if (!(s = Read(text, "num_attention_heads", &config.num_heads)).ok()) return s;
  if (!(s = Read(text, "num_key_value_heads", &config.sliding.num_kv_heads)).ok()) return s;
  if (!(s = Read(text, "head_dim", &config.sliding.head_dim)).ok()) return s;
  if (!(s = Read(text, "sliding_window", &config.sliding_window)).ok()) return s;
  config.vocab_size = ReadOr(text, "vocab_size", 262144);
  config.rms_norm_eps = ReadOr(text, "rms_norm_eps", 1e-6f);
  config.final_logit_softcap = ReadOr(text, "final_logit_softcapping", 0.f);
  config.max_position = ReadOr(text, "max_position_embeddings", 131072);
  config.attention_k_eq_v = ReadOr(text, "attention_k_eq_v", false);
  config.full.head_dim = ReadOr(text, "global_head_dim", config.sliding.head_dim);
  config.full.num_kv_heads = config.attention_k_eq_v ? ReadOr(text, "num_global_key_value_heads",
                                                              config.sliding.num_kv_heads)
                                                     : config.sliding.num_kv_heads;
  config.pad_token_id = ReadOr(text, "pad_token_id", ReadOr(root, "pad_token_id", 0));
  config.bos_token_id = ReadOr(text, "bos_token_id", ReadOr(root, "bos_token_id", 2));
  if (text.contains("eos_token_id") && text["eos_token_id"].is_number()) {
    config.eos_token_id = text["eos_token_id"].get<int>();
  }
  const Json& bidirectional =
      text.contains("use_bidirectional_attention") ? text["use_bidirectional_attention"] : Json();
  config.bidirectional_vision = bidirectional.is_string() && bidirectional == "vision";

  if (ReadOr(text, "hidden_size_per_layer_input", 0) > 0) {
    return absl::UnimplementedError("per-layer embeddings (E2B/E4B) are not implemented yet");
  }
  if (!drafter && ReadOr(text, "num_kv_shared_layers", 0) > 0) {
    return absl::UnimplementedError("KV-shared layers (E2B/E4B) are not implemented yet");
  }
  if (ReadOr(text, "enable_moe_block", false)) {
    return absl::UnimplementedError("mixture-of-experts layers (26B-A4B) are not implemented yet");
  }

  if (text.contains("layer_types") && text["layer_types"].is_array()) {
    for (const Json& t : text["layer_types"]) {
      if (t == "sliding_attention") {
        config.layer_types.push_back(LayerType::kSliding);
      } else if (t == "full_attention") {
        config.layer_types.push_back(LayerType::kFull);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("config.json: unknown layer type ", t.dump()));
      }
    }
    if (static_cast<int>(config.layer_types.size()) != num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: ", config.layer_types.size(),
                                                     " layer_types for ", num_layers, " layers"));
    }
  } else {
    for (int i = 0; i < num_layers; ++i) {
      config.layer_types.push_back((i + 1) % 6 == 0 ? LayerType::kFull : LayerType::kSliding);
    }
  }
  if (!config.layer_types.empty()) config.layer_types.back() = LayerType::kFull;

  // rope_parameters: {"sliding_attention": {...}, "full_attention": {...}}.
  Json rope = text.contains("rope_parameters") && text["rope_parameters"].is_object()
                  ? text["rope_parameters"]
                  : Json::object();
  const Json sliding_rope = rope.value("sliding_attention", Json::object());
  const Json full_rope = rope.value("full_attention", Json::object());
  config.sliding.rope_theta = ReadOr(sliding_rope, "rope_theta", 10000.f);
  config.full.rope_theta = ReadOr(full_rope, "rope_theta", 1000000.f);
  const float sliding_partial = ReadOr(sliding_rope, "partial_rotary_factor", 1.f);
  config.sliding.rotated_pairs = static_cast<int>(sliding_partial * config.sliding.head_dim / 2);
  const std::string full_type = full_rope.value("rope_type", std::string("default"));
  const float full_partial = ReadOr(full_rope, "partial_rotary_factor", 1.f);
  if (full_type != "default" && full_type != "proportional") {
    return absl::UnimplementedError(
        absl::StrCat("config.json: full-attention rope_type ", full_type, " is not supported"));
  }
  // Proportional: floor(factor * head_dim / 2) pairs rotate, frequencies over the full head dim.
  config.full.rotated_pairs = static_cast<int>(full_partial * config.full.head_dim / 2);
  if (!drafter && root.contains("vision_config") && root["vision_config"].is_object()) {
    const Json& vision = root["vision_config"];
    config.media.has_vision = true;
    config.media.model_patch_size = ReadOr(vision, "model_patch_size", 48);
    config.media.patch_dim = config.media.model_patch_size * config.media.model_patch_size * 3;
    config.media.position_table_size = ReadOr(vision, "mm_posemb_size", 1120);
    config.media.max_soft_tokens = ReadOr(vision, "num_soft_tokens", 280);
    const int embed_dim = ReadOr(vision, "mm_embed_dim", config.hidden_size);
    if (embed_dim != config.hidden_size) {
      return absl::UnimplementedError(absl::StrCat("vision_config.mm_embed_dim ", embed_dim,
                                                   " differs from hidden_size ",
                                                   config.hidden_size));
    }
  }
  if (!drafter && root.contains("audio_config") && root["audio_config"].is_object()) {
    config.media.has_audio = true;
    config.media.audio_frame = ReadOr(root["audio_config"], "audio_embed_dim", 640);
  }
  absl::Status valid = ValidateGemma4Config(config);
  if (!valid.ok()) return valid;
  return config;
}

}  // namespace

absl::StatusOr<Gemma4Config> Gemma4ConfigFromHfJson(const std::string& json_text) {
  return ParseHfConfig(json_text, /*drafter=*/false);
}

absl::StatusOr<Gemma4Config> Gemma4DrafterConfigFromHfJson(const std::string& json_text) {
  return ParseHfConfig(json_text, /*drafter=*/true);
}

namespace {

// A target's metadata (arch "gemma4") or an MTP drafter's ("gemma4-assistant": query-only layers
// over the target's KV cache, embedding_length_out = the target's hidden size).
absl::StatusOr<Gemma4Config> ParseGgufConfig(const GgufFile& gguf, bool drafter) {
  const std::string want = drafter ? "gemma4-assistant" : "gemma4";
  absl::StatusOr<std::string> arch = gguf.GetString("general.architecture");
  if (!arch.ok()) return arch.status();
  if (*arch != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(gguf.path(), ": architecture ", *arch, " is not ", want));
  }
  const std::string prefix = want + ".";
  Gemma4Config config;
  config.architecture = absl::StrCat(want, " (GGUF)");
  auto get_int = [&](const std::string& key, int* out) -> absl::Status {
    absl::StatusOr<int64_t> v = gguf.GetInt(prefix + key);
    if (!v.ok()) return v.status();
    *out = static_cast<int>(*v);
    return absl::OkStatus();
  };
  auto get_float = [&](const std::string& key, float* out, float fallback) -> absl::Status {
    absl::StatusOr<double> v = gguf.GetFloat(prefix + key);
    if (v.status().code() == absl::StatusCode::kNotFound) {
      *out = fallback;
      return absl::OkStatus();
    }
    if (!v.ok()) return v.status();
    *out = static_cast<float>(*v);
    return absl::OkStatus();
  };
  absl::Status s;
  int num_layers = 0;
  if (!(s = get_int("block_count", &num_layers)).ok()) return s;
  if (!(s = get_int("embedding_length", &config.hidden_size)).ok()) return s;
  if (!(s = get_int("context_length", &config.max_position)).ok()) return s;
  if (!(s = get_int("attention.head_count", &config.num_heads)).ok()) return s;
  if (!(s = get_int("attention.key_length", &config.full.head_dim)).ok()) return s;
  if (!(s = get_int("attention.key_length_swa", &config.sliding.head_dim)).ok()) return s;
  if (!(s = get_int("attention.sliding_window", &config.sliding_window)).ok()) return s;
  if (!(s = get_float("attention.layer_norm_rms_epsilon", &config.rms_norm_eps, 1e-6f)).ok())
    return s;
  if (!(s = get_float("final_logit_softcapping", &config.final_logit_softcap, 0.f)).ok()) return s;
  if (!(s = get_float("rope.freq_base", &config.full.rope_theta, 1e6f)).ok()) return s;
  if (!(s = get_float("rope.freq_base_swa", &config.sliding.rope_theta, 1e4f)).ok()) return s;
  absl::StatusOr<std::vector<int64_t>> ff =
      gguf.GetIntsPerLayer(prefix + "feed_forward_length", num_layers);
  if (!ff.ok()) return ff.status();
  for (int64_t width : *ff) {
    if (width != (*ff)[0]) {
      return absl::UnimplementedError("per-layer MLP widths (double-wide MLP) are not implemented");
    }
  }
  config.intermediate_size = static_cast<int>((*ff)[0]);
  absl::StatusOr<std::vector<int64_t>> swa =
      gguf.GetIntsPerLayer(prefix + "attention.sliding_window_pattern", num_layers);
  if (!swa.ok()) return swa.status();
  for (int64_t is_swa : *swa) {
    config.layer_types.push_back(is_swa ? LayerType::kSliding : LayerType::kFull);
  }
  absl::StatusOr<std::vector<int64_t>> kv =
      gguf.GetIntsPerLayer(prefix + "attention.head_count_kv", num_layers);
  if (!kv.ok()) return kv.status();
  for (int i = 0; i < num_layers; ++i) {
    AttentionGeometry& g = config.layer_types[i] == LayerType::kFull ? config.full : config.sliding;
    if (g.num_kv_heads != 0 && g.num_kv_heads != (*kv)[i]) {
      return absl::InvalidArgumentError("GGUF: KV head counts differ between layers of one type");
    }
    g.num_kv_heads = static_cast<int>((*kv)[i]);
  }
  // A drafter's layers all read the target's KV cache: shared_kv_layers is expected there.
  for (const char* key :
       {"attention.shared_kv_layers", "embedding_length_per_layer_input", "expert_count"}) {
    if (drafter && std::string(key) == "attention.shared_kv_layers") continue;
    absl::StatusOr<int64_t> v = gguf.GetInt(prefix + key);
    if (v.ok() && *v > 0) {
      return absl::UnimplementedError(absl::StrCat(prefix, key, " > 0 is not implemented yet"));
    }
  }
  if (drafter) {
    if (!(s = get_int("embedding_length_out", &config.drafter_backbone_hidden_size)).ok()) {
      return s;
    }
    if (gguf.FindTensor("masked_embd_centroids.weight") != nullptr) {
      return absl::UnimplementedError(
          "drafters with ordered (centroid) embeddings (E2B/E4B assistants) are not implemented");
    }
  }
  // k_eq_v: full layers without attn_v (a drafter has neither K nor V projections).
  config.attention_k_eq_v = false;
  for (int i = 0; i < num_layers && !drafter; ++i) {
    if (config.layer_types[i] == LayerType::kFull &&
        gguf.FindTensor(absl::StrCat("blk.", i, ".attn_v.weight")) == nullptr) {
      config.attention_k_eq_v = true;
    }
  }
  config.sliding.rotated_pairs = config.sliding.head_dim / 2;
  config.full.rotated_pairs = config.full.head_dim / 2;
  if (const TensorView* freqs = gguf.FindTensor("rope_freqs.weight"); freqs != nullptr) {
    if (freqs->num_elements() != config.full.head_dim / 2) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF: rope_freqs has ", freqs->num_elements(),
                                                     " entries, expected ",
                                                     config.full.head_dim / 2));
    }
    std::vector<float> factors(freqs->num_elements());
    ConvertToF32(freqs->dtype, freqs->data, factors.size(), factors.data());
    int rotated = 0;
    while (rotated < static_cast<int>(factors.size()) && factors[rotated] == 1.f) ++rotated;
    for (size_t i = rotated; i < factors.size(); ++i) {
      if (factors[i] < 1e29f) {
        return absl::UnimplementedError(
            "GGUF: rope_freqs other than 1.0 followed by pass-through (>= 1e29) are not supported");
      }
    }
    config.full.rotated_pairs = rotated;
  }
  if (const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens"); tokens != nullptr) {
    config.vocab_size = static_cast<int>(tokens->size());
  }
  if (const TensorView* embed = gguf.FindTensor("token_embd.weight"); embed != nullptr) {
    config.vocab_size = static_cast<int>(embed->shape[0]);
  }
  auto id = [&](const char* key, int fallback) {
    absl::StatusOr<int64_t> v = gguf.GetInt(key);
    return v.ok() ? static_cast<int>(*v) : fallback;
  };
  config.bos_token_id = id("tokenizer.ggml.bos_token_id", 2);
  config.eos_token_id = id("tokenizer.ggml.eos_token_id", 1);
  config.pad_token_id = id("tokenizer.ggml.padding_token_id", 0);
  config.bidirectional_vision = true;  // llama.cpp's gemma4 default (SWA layers only).
  absl::Status valid = ValidateGemma4Config(config);
  if (!valid.ok()) return valid;
  return config;
}

}  // namespace

absl::StatusOr<Gemma4Config> Gemma4ConfigFromGguf(const GgufFile& gguf) {
  return ParseGgufConfig(gguf, /*drafter=*/false);
}

absl::StatusOr<Gemma4Config> Gemma4DrafterConfigFromGguf(const GgufFile& gguf) {
  return ParseGgufConfig(gguf, /*drafter=*/true);
}

}  // namespace gemma
