#include "engine/tools/test_checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/io/gguf.h"
#include "engine/io/gguf_writer.h"
#include "engine/io/safetensors.h"
#include "engine/model/checkpoint.h"
#include "preprocess/vocab.h"

namespace gemma {
namespace {

using Json = nlohmann::json;

struct Tensor {
  std::string hf_name;  // Relative to the language model, or the full name when `media`.
  std::vector<int64_t> shape;
  std::vector<float> values;
  bool is_matrix;
  bool media = false;  // An embedder tensor: HF layout only, stored under its full name.
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  std::vector<float> Normal(int64_t count, float std) {
    std::normal_distribution<float> dist(0.f, std);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng_);
    return v;
  }
  std::vector<float> Uniform(int64_t count, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(rng_);
    return v;
  }

 private:
  std::mt19937_64 rng_;
};

std::vector<uint8_t> Encode(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(DTypeBytes(dtype, values.size()));
  switch (dtype) {
    case DType::kF32:
      std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case DType::kBF16:
    case DType::kF16:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t bits = dtype == DType::kBF16 ? F32ToBf16(values[i]) : F32ToF16(values[i]);
        std::memcpy(&bytes[2 * i], &bits, 2);
      }
      break;
    case DType::kQ8_0:
      QuantizeQ8_0(values.data(), values.size(), bytes.data());
      break;
    default:
      break;
  }
  return bytes;
}

std::vector<std::string> LayerTypes(const TestCheckpointOptions& o) {
  std::vector<std::string> types;
  for (int i = 0; i < o.num_layers; ++i) {
    types.push_back((i + 1) % 6 == 0 || i + 1 == o.num_layers ? "full_attention"
                                                              : "sliding_attention");
  }
  return types;
}

std::vector<Tensor> MakeTensors(const TestCheckpointOptions& o, int vocab_size) {
  Generator gen(o.seed);
  const int64_t h = o.hidden_size, ffn = o.intermediate_size;
  std::vector<Tensor> tensors;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    tensors.push_back(
        {name, {rows, cols}, gen.Normal(rows * cols, 1.f / std::sqrt(float(cols))), true});
  };
  auto vector = [&](const std::string& name, int64_t size, float lo, float hi) {
    tensors.push_back({name, {size}, gen.Uniform(size, lo, hi), false});
  };
  tensors.push_back({"embed_tokens.weight",
                     {vocab_size, h},
                     gen.Normal(int64_t{vocab_size} * h, o.embed_std),
                     true});
  vector("norm.weight", h, 0.5f, 1.5f);
  const std::vector<std::string> types = LayerTypes(o);
  for (int i = 0; i < o.num_layers; ++i) {
    const bool full = types[i] == "full_attention";
    const int64_t d = full ? o.head_dim_full : o.head_dim_sliding;
    const int64_t kv = full ? o.num_kv_heads_full : o.num_kv_heads_sliding;
    const std::string p = absl::StrCat("layers.", i, ".");
    vector(p + "input_layernorm.weight", h, 0.5f, 1.5f);
    matrix(p + "self_attn.q_proj.weight", o.num_heads * d, h);
    matrix(p + "self_attn.k_proj.weight", kv * d, h);
    if (!full) matrix(p + "self_attn.v_proj.weight", kv * d, h);  // k_eq_v on full layers.
    matrix(p + "self_attn.o_proj.weight", h, o.num_heads * d);
    vector(p + "self_attn.q_norm.weight", d, 0.5f, 1.5f);
    vector(p + "self_attn.k_norm.weight", d, 0.5f, 1.5f);
    vector(p + "post_attention_layernorm.weight", h, o.echo ? 0.f : 2.f, o.echo ? 0.f : 4.f);
    vector(p + "pre_feedforward_layernorm.weight", h, 0.5f, 1.5f);
    matrix(p + "mlp.gate_proj.weight", ffn, h);
    matrix(p + "mlp.up_proj.weight", ffn, h);
    matrix(p + "mlp.down_proj.weight", h, ffn);
    vector(p + "post_feedforward_layernorm.weight", h, o.echo ? 0.f : 2.f, o.echo ? 0.f : 4.f);
    vector(p + "layer_scalar", 1, 0.7f, 1.3f);
  }
  if (o.echo) {
    for (Tensor& t : tensors) {
      if (t.hf_name == "norm.weight") std::fill(t.values.begin(), t.values.end(), 1.f);
    }
  }
  // The encoder-free embedders (google/gemma-4-12B names).
  const int64_t patch = 48 * 48 * 3;
  auto media_vector = [&](const std::string& name, int64_t size, float lo, float hi) {
    tensors.push_back({name, {size}, gen.Uniform(size, lo, hi), false, true});
  };
  media_vector("model.vision_embedder.patch_ln1.weight", patch, 0.5f, 1.5f);
  media_vector("model.vision_embedder.patch_ln1.bias", patch, -0.1f, 0.1f);
  tensors.push_back({"model.vision_embedder.patch_dense.weight",
                     {h, patch},
                     gen.Normal(h * patch, 1.f / std::sqrt(float(patch))),
                     true,
                     true});
  media_vector("model.vision_embedder.patch_dense.bias", h, -0.1f, 0.1f);
  media_vector("model.vision_embedder.patch_ln2.weight", h, 0.5f, 1.5f);
  media_vector("model.vision_embedder.patch_ln2.bias", h, -0.1f, 0.1f);
  tensors.push_back({"model.vision_embedder.pos_embedding",
                     {1120, 2, h},
                     gen.Normal(1120 * 2 * h, 0.5f),
                     false,
                     true});
  media_vector("model.vision_embedder.pos_norm.weight", h, 0.5f, 1.5f);
  media_vector("model.vision_embedder.pos_norm.bias", h, -0.1f, 0.1f);
  tensors.push_back({"model.embed_vision.embedding_projection.weight",
                     {h, h},
                     gen.Normal(h * h, 1.f / std::sqrt(float(h))),
                     true,
                     true});
  tensors.push_back({"model.embed_audio.embedding_projection.weight",
                     {h, 640},
                     gen.Normal(h * 640, 1.f / std::sqrt(640.f)),
                     true,
                     true});
  return tensors;
}

// The attention fields a target and its drafter share (the 12B's scaled down).
Json AttentionConfig(const TestCheckpointOptions& o, const std::vector<std::string>& types) {
  return {
      {"num_attention_heads", o.num_heads},
      {"num_key_value_heads", o.num_kv_heads_sliding},
      {"num_global_key_value_heads", o.num_kv_heads_full},
      {"head_dim", o.head_dim_sliding},
      {"global_head_dim", o.head_dim_full},
      {"attention_k_eq_v", true},
      {"layer_types", types},
      {"sliding_window", o.sliding_window},
      {"rope_parameters",
       {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
        {"full_attention",
         {{"rope_type", "proportional"},
          {"partial_rotary_factor", 0.25},
          {"rope_theta", 1000000.0}}}}},
      {"rms_norm_eps", 1e-6},
  };
}

Json HfConfig(const TestCheckpointOptions& o, int vocab_size) {
  const std::vector<std::string> types = LayerTypes(o);
  Json text = AttentionConfig(o, types);
  text.update(Json{
      {"model_type", "gemma4_unified_text"},
      {"hidden_size", o.hidden_size},
      {"intermediate_size", o.intermediate_size},
      {"num_hidden_layers", o.num_layers},
      {"final_logit_softcapping", 30.0},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"vocab_size", vocab_size},
      {"max_position_embeddings", o.max_position},
      {"tie_word_embeddings", true},
      {"hidden_size_per_layer_input", 0},
      {"num_kv_shared_layers", 0},
      {"use_double_wide_mlp", false},
      {"enable_moe_block", false},
      {"use_bidirectional_attention", "vision"},
      {"attention_bias", false},
      {"pad_token_id", 0},
      {"eos_token_id", 1},
      {"bos_token_id", 2},
      {"torch_dtype", o.hf_dtype == DType::kBF16 ? "bfloat16" : "float32"},
  });
  return {
      {"architectures", {"Gemma4UnifiedForConditionalGeneration"}},
      {"model_type", "gemma4_unified"},
      {"text_config", text},
      {"vision_config",
       {{"patch_size", 16},
        {"pooling_kernel_size", 3},
        {"model_patch_size", 48},
        {"mm_embed_dim", o.hidden_size},
        {"mm_posemb_size", 1120},
        {"num_soft_tokens", 280}}},
      {"audio_config", {{"audio_embed_dim", 640}}},
      {"image_token_id", 258880},
      {"audio_token_id", 258881},
      {"boi_token_id", 255999},
      {"eoi_token_id", 258882},
      {"tie_word_embeddings", true},
      {"torch_dtype", o.hf_dtype == DType::kBF16 ? "bfloat16" : "float32"},
  };
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// tokenizer.json, tokenizer_config.json and chat_template.jinja, as Hugging Face checkpoints
// carry them.
absl::Status WriteHfTokenizer(const std::string& dir, const std::string& vocab_path) {
  absl::StatusOr<Vocab> vocab = LoadGgufVocab(vocab_path);
  if (!vocab.ok()) return vocab.status();
  absl::Status s = WriteText(dir + "/tokenizer.json", TokenizerJson(*vocab));
  if (!s.ok()) return s;
  if (!vocab->chat_template.empty()) {
    s = WriteText(dir + "/chat_template.jinja", vocab->chat_template);
    if (!s.ok()) return s;
  }
  Json config = {{"tokenizer_class", "GemmaTokenizer"},
                 {"add_bos_token", vocab->add_bos},
                 {"add_eos_token", false},
                 {"model_max_length", 131072}};
  for (const auto& [key, id] : {std::pair<const char*, int32_t>{"bos_token", vocab->bos_id},
                                {"eos_token", vocab->eos_id},
                                {"pad_token", vocab->pad_id},
                                {"unk_token", vocab->unk_id}}) {
    if (id >= 0) config[key] = vocab->pieces[id];
  }
  return WriteText(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

absl::Status WriteHf(const TestCheckpointOptions& o, const std::vector<Tensor>& tensors,
                     int vocab_size, const std::string& vocab_path) {
  mkdir(o.hf_dir.c_str(), 0755);
  absl::Status s = WriteText(o.hf_dir + "/config.json", HfConfig(o, vocab_size).dump(2) + "\n");
  if (!s.ok()) return s;
  if (o.write_tokenizer) {
    s = WriteHfTokenizer(o.hf_dir, vocab_path);
    if (!s.ok()) return s;
  }
  s = WriteText(o.hf_dir + "/generation_config.json", Json{{"bos_token_id", 2},
                                                           {"eos_token_id", {1, 106}},
                                                           {"pad_token_id", 0},
                                                           {"do_sample", true},
                                                           {"temperature", 1.0},
                                                           {"top_k", 64},
                                                           {"top_p", 0.95}}
                                                              .dump(2) +
                                                          "\n");
  if (!s.ok()) return s;
  std::vector<SafetensorsEntry> entries;
  for (const Tensor& t : tensors) {
    entries.push_back({t.media ? t.hf_name : "model.language_model." + t.hf_name, o.hf_dtype,
                       t.shape, Encode(t.values, o.hf_dtype)});
  }
  return WriteSafetensorsDirectory(o.hf_dir, entries);
}

// The hyper-parameters llama.cpp reads for `arch` ("gemma4" or "gemma4-assistant"), the
// tokenizer.* metadata of the vocabulary GGUF, and the full layers' rope_freqs (1.0 for the
// rotated quarter of the pairs, 1e30 = pass-through for the rest).
absl::Status StartGguf(const TestCheckpointOptions& o, const std::string& arch, int64_t hidden,
                       int64_t ffn, const std::vector<std::string>& types, const GgufFile& vocab,
                       GgufWriter* w) {
  auto key = [&](const char* name) { return absl::StrCat(arch, ".", name); };
  w->SetMetadata("general.architecture", GgufValue::String(arch));
  w->SetMetadata("general.name", GgufValue::String("gemma-serve test checkpoint"));
  w->SetMetadata(key("context_length"), GgufValue::U32(o.max_position));
  w->SetMetadata(key("embedding_length"), GgufValue::U32(hidden));
  w->SetMetadata(key("block_count"), GgufValue::U32(types.size()));
  w->SetMetadata(key("feed_forward_length"), GgufValue::U32(ffn));
  w->SetMetadata(key("attention.head_count"), GgufValue::U32(o.num_heads));
  std::vector<int32_t> kv_heads;
  std::vector<bool> swa;
  for (const std::string& t : types) {
    swa.push_back(t == "sliding_attention");
    kv_heads.push_back(swa.back() ? o.num_kv_heads_sliding : o.num_kv_heads_full);
  }
  w->SetMetadata(key("attention.head_count_kv"), GgufValue::I32Array(kv_heads));
  w->SetMetadata(key("attention.sliding_window_pattern"), GgufValue::BoolArray(swa));
  w->SetMetadata(key("attention.sliding_window"), GgufValue::U32(o.sliding_window));
  w->SetMetadata(key("attention.layer_norm_rms_epsilon"), GgufValue::F32(1e-6f));
  w->SetMetadata(key("attention.key_length"), GgufValue::U32(o.head_dim_full));
  w->SetMetadata(key("attention.value_length"), GgufValue::U32(o.head_dim_full));
  w->SetMetadata(key("attention.key_length_swa"), GgufValue::U32(o.head_dim_sliding));
  w->SetMetadata(key("attention.value_length_swa"), GgufValue::U32(o.head_dim_sliding));
  w->SetMetadata(key("embedding_length_per_layer_input"), GgufValue::U32(0));
  w->SetMetadata(key("rope.freq_base"), GgufValue::F32(1e6f));
  w->SetMetadata(key("rope.freq_base_swa"), GgufValue::F32(1e4f));
  w->SetMetadata(key("rope.dimension_count"), GgufValue::U32(o.head_dim_full));
  w->SetMetadata(key("rope.dimension_count_swa"), GgufValue::U32(o.head_dim_sliding));
  for (const auto& [name, value] : vocab.metadata()) {
    if (absl::StartsWith(name, "tokenizer.")) w->SetMetadata(name, value);
  }
  const int rotated = o.head_dim_full / 8;  // partial_rotary_factor 0.25 of head_dim / 2 pairs.
  std::vector<float> freqs(o.head_dim_full / 2, 1e30f);
  for (int i = 0; i < rotated; ++i) freqs[i] = 1.f;
  return w->AddTensor("rope_freqs.weight", DType::kF32, {int64_t(freqs.size())},
                      Encode(freqs, DType::kF32));
}

// Language-model tensors under llama.cpp's names (matrices in o.gguf_dtype, norms in F32).
absl::Status AddGgufTensors(const TestCheckpointOptions& o, const std::vector<Tensor>& tensors,
                            GgufWriter* w) {
  for (const Tensor& t : tensors) {
    if (t.media) continue;  // GGUF carries the language model only.
    const DType dtype = t.is_matrix ? o.gguf_dtype : DType::kF32;
    absl::Status s =
        w->AddTensor(GgufTensorName(t.hf_name), dtype, t.shape, Encode(t.values, dtype));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteGguf(const TestCheckpointOptions& o, const std::vector<Tensor>& tensors,
                       const GgufFile& vocab) {
  GgufWriter w;
  absl::Status s =
      StartGguf(o, "gemma4", o.hidden_size, o.intermediate_size, LayerTypes(o), vocab, &w);
  if (!s.ok()) return s;
  w.SetMetadata("gemma4.attention.shared_kv_layers", GgufValue::U32(0));
  w.SetMetadata("gemma4.final_logit_softcapping", GgufValue::F32(30.f));
  if (!(s = AddGgufTensors(o, tensors, &w)).ok()) return s;
  return w.Write(o.gguf_path);
}

// 3 sliding + 1 full query-only layers, as the 12B's assistant.
const std::vector<std::string>& DrafterLayerTypes() {
  static const std::vector<std::string> types = {"sliding_attention", "sliding_attention",
                                                 "sliding_attention", "full_attention"};
  return types;
}

// The drafter's tensors, named relative to its language model (Checkpoint's convention).
std::vector<Tensor> MakeDrafterTensors(const TestCheckpointOptions& o,
                                       const std::vector<Tensor>& target, int vocab_size) {
  Generator gen(o.seed ^ 0xd2af7e2ull);
  const bool constructed = o.drafter_agreement >= 0.f;
  const int64_t backbone = o.hidden_size;
  const int64_t h = constructed ? backbone : o.drafter_hidden_size;
  const int64_t ffn = o.drafter_intermediate_size;
  std::vector<Tensor> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    const bool is_matrix = shape.size() == 2;
    tensors.push_back({name, std::move(shape), std::move(values), is_matrix});
  };
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    add(name, {rows, cols}, gen.Normal(rows * cols, 1.f / std::sqrt(float(cols))));
  };
  auto vector = [&](const std::string& name, int64_t size, float lo, float hi) {
    add(name, {size}, gen.Uniform(size, lo, hi));
  };
  if (constructed) {
    // Embedding rows equal the target's for the first `agreement` share of tokens (in a seeded
    // random order), random for the rest; pre_projection passes the target embedding through and
    // ignores the hidden state; the layers add nothing (post norms 0): the draft for token t is
    // the row of E_drafter most aligned with E_target[t], i.e. t where the rows agree.
    std::vector<float> embed = gen.Normal(int64_t{vocab_size} * h, o.embed_std);
    const std::vector<float>& target_embed = target.front().values;  // embed_tokens comes first.
    std::vector<int32_t> order(vocab_size);
    for (int32_t i = 0; i < vocab_size; ++i) order[i] = i;
    std::mt19937_64 shuffle(o.seed ^ 0x5eedull);
    std::shuffle(order.begin(), order.end(), shuffle);
    const int agreeing = static_cast<int>(o.drafter_agreement * vocab_size);
    for (int i = 0; i < agreeing; ++i) {
      std::copy_n(&target_embed[int64_t{order[i]} * h], h, &embed[int64_t{order[i]} * h]);
    }
    add("embed_tokens.weight", {vocab_size, h}, std::move(embed));
    add("norm.weight", {h}, std::vector<float>(h, 1.f));
    std::vector<float> pre(h * 2 * backbone, 0.f);
    for (int64_t i = 0; i < h; ++i) pre[i * 2 * backbone + i] = 1.f;
    add("pre_projection.weight", {h, 2 * backbone}, std::move(pre));
  } else {
    add("embed_tokens.weight", {vocab_size, h}, gen.Normal(int64_t{vocab_size} * h, o.embed_std));
    vector("norm.weight", h, 0.5f, 1.5f);
    matrix("pre_projection.weight", h, 2 * backbone);
  }
  matrix("post_projection.weight", backbone, h);
  const std::vector<std::string>& types = DrafterLayerTypes();
  for (size_t i = 0; i < types.size(); ++i) {
    const bool full = types[i] == "full_attention";
    const int64_t d = full ? o.head_dim_full : o.head_dim_sliding;
    const std::string p = absl::StrCat("layers.", i, ".");
    vector(p + "input_layernorm.weight", h, 0.5f, 1.5f);
    matrix(p + "self_attn.q_proj.weight", o.num_heads * d, h);
    vector(p + "self_attn.q_norm.weight", d, 0.5f, 1.5f);
    matrix(p + "self_attn.o_proj.weight", h, o.num_heads * d);
    const float post = constructed ? 0.f : 0.5f, post_hi = constructed ? 0.f : 1.5f;
    vector(p + "post_attention_layernorm.weight", h, post, post_hi);
    vector(p + "pre_feedforward_layernorm.weight", h, 0.5f, 1.5f);
    matrix(p + "mlp.gate_proj.weight", ffn, h);
    matrix(p + "mlp.up_proj.weight", ffn, h);
    matrix(p + "mlp.down_proj.weight", h, ffn);
    vector(p + "post_feedforward_layernorm.weight", h, post, post_hi);
    vector(p + "layer_scalar", 1, 0.7f, 1.3f);
  }
  if (o.hf_dtype == DType::kBF16) {  // Both layouts hold the same (bf16-representable) values.
    for (Tensor& t : tensors) {
      for (float& v : t.values) v = RoundToBf16(v);
    }
  }
  return tensors;
}

absl::Status WriteDrafterHf(const TestCheckpointOptions& o, const std::vector<Tensor>& tensors,
                            int vocab_size) {
  const int64_t h = tensors.front().shape[1];  // embed_tokens: [vocab, h].
  std::vector<SafetensorsEntry> entries;
  for (const Tensor& t : tensors) {
    const bool top_level = absl::EndsWith(t.hf_name, "projection.weight");
    entries.push_back({top_level ? t.hf_name : "model." + t.hf_name, o.hf_dtype, t.shape,
                       Encode(t.values, o.hf_dtype)});
  }
  mkdir(o.drafter_dir.c_str(), 0755);
  Json text = AttentionConfig(o, DrafterLayerTypes());
  text.update(Json{
      {"model_type", "gemma4_unified_assistant_text"},
      {"hidden_size", h},
      {"intermediate_size", o.drafter_intermediate_size},
      {"num_hidden_layers", DrafterLayerTypes().size()},
      {"num_kv_shared_layers", DrafterLayerTypes().size()},
      {"vocab_size", vocab_size},
      {"max_position_embeddings", o.max_position},
  });
  Json config = {{"architectures", {"Gemma4UnifiedAssistantForCausalLM"}},
                 {"model_type", "gemma4_unified_assistant"},
                 {"backbone_hidden_size", o.hidden_size},
                 {"use_ordered_embeddings", false},
                 {"text_config", text}};
  absl::Status s = WriteText(o.drafter_dir + "/config.json", config.dump(2) + "\n");
  if (!s.ok()) return s;
  return WriteSafetensorsDirectory(o.drafter_dir, entries);
}

// llama.cpp's gemma4-assistant layout: the target's keys under "gemma4-assistant.", plus
// embedding_length_out (the target's width) and nextn_predict_layers (all 4 layers).
absl::Status WriteDrafterGguf(const TestCheckpointOptions& o, const std::vector<Tensor>& tensors,
                              const GgufFile& vocab) {
  const int64_t h = tensors.front().shape[1];
  const auto layers = static_cast<uint32_t>(DrafterLayerTypes().size());
  GgufWriter w;
  absl::Status s = StartGguf(o, "gemma4-assistant", h, o.drafter_intermediate_size,
                             DrafterLayerTypes(), vocab, &w);
  if (!s.ok()) return s;
  w.SetMetadata("gemma4-assistant.attention.shared_kv_layers", GgufValue::U32(layers));
  w.SetMetadata("gemma4-assistant.embedding_length_out", GgufValue::U32(o.hidden_size));
  w.SetMetadata("gemma4-assistant.nextn_predict_layers", GgufValue::U32(layers));
  if (!(s = AddGgufTensors(o, tensors, &w)).ok()) return s;
  return w.Write(o.drafter_gguf);
}

}  // namespace

std::string DefaultVocabGguf() {
  const char* env = std::getenv("GEMMA_VOCAB_GGUF");
  return env != nullptr ? env : "/var/cache/gemma-serve/llama.cpp/models/ggml-vocab-gemma-4.gguf";
}

absl::Status WriteTestCheckpoint(const TestCheckpointOptions& o) {
  if (o.hf_dtype != DType::kF32 && o.hf_dtype != DType::kBF16) {
    return absl::InvalidArgumentError("HF dtype must be f32 or bf16");
  }
  if (o.num_layers < 1 || o.head_dim_full % 8 != 0 || o.hidden_size % 32 != 0 ||
      o.intermediate_size % 32 != 0) {
    return absl::InvalidArgumentError(
        "need at least one layer, a full head dim divisible by 8, and hidden and intermediate "
        "sizes divisible by 32");
  }
  const std::string vocab_path = o.vocab_gguf.empty() ? DefaultVocabGguf() : o.vocab_gguf;
  absl::StatusOr<GgufFile> vocab = GgufFile::Open(vocab_path);
  if (!vocab.ok()) {
    return absl::Status(
        vocab.status().code(),
        absl::StrCat("vocabulary GGUF (run scripts/setup.sh): ", vocab.status().message()));
  }
  const GgufValue* tokens = vocab->Find("tokenizer.ggml.tokens");
  if (tokens == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(vocab_path, ": no tokenizer.ggml.tokens"));
  }
  const int vocab_size = static_cast<int>(tokens->size());
  std::vector<Tensor> tensors = MakeTensors(o, vocab_size);
  if (o.hf_dtype == DType::kBF16) {  // Both layouts hold the same (bf16-representable) values.
    for (Tensor& t : tensors) {
      for (float& v : t.values) v = RoundToBf16(v);
    }
  }
  if (!o.hf_dir.empty()) {
    absl::Status s = WriteHf(o, tensors, vocab_size, vocab_path);
    if (!s.ok()) return s;
  }
  if (!o.gguf_path.empty()) {
    absl::Status s = WriteGguf(o, tensors, *vocab);
    if (!s.ok()) return s;
  }
  if (!o.drafter_dir.empty() || !o.drafter_gguf.empty()) {
    const std::vector<Tensor> drafter = MakeDrafterTensors(o, tensors, vocab_size);
    if (!o.drafter_dir.empty()) {
      absl::Status s = WriteDrafterHf(o, drafter, vocab_size);
      if (!s.ok()) return s;
    }
    if (!o.drafter_gguf.empty()) {
      absl::Status s = WriteDrafterGguf(o, drafter, *vocab);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace gemma
