#include "engine/model/checkpoint.h"

#include <sys/stat.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/io/mapped_file.h"

namespace gemma {
namespace {

struct NamePair {
  const char* hf;
  const char* gguf;
};

// Language-model tensors: Hugging Face suffix -> GGUF name (llama.cpp's gemma4 names).
constexpr NamePair kGlobalNames[] = {
    {"embed_tokens.weight", "token_embd.weight"},
    {"norm.weight", "output_norm.weight"},
    // MTP drafters (llama.cpp's gemma4-assistant names).
    {"pre_projection.weight", "nextn.pre_projection.weight"},
    {"post_projection.weight", "nextn.post_projection.weight"},
};
// Drafter tensors that HF stores at the top level, outside the language model's prefix.
constexpr const char* kUnprefixedHfNames[] = {"pre_projection.weight", "post_projection.weight"};
constexpr NamePair kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"layer_scalar", "layer_output_scale.weight"},
};

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

std::string GgufTensorName(const std::string& hf_name) {
  for (const NamePair& pair : kGlobalNames) {
    if (hf_name == pair.hf) return pair.gguf;
  }
  std::vector<std::string> parts = absl::StrSplit(hf_name, absl::MaxSplits('.', 2));
  int layer;
  if (parts.size() == 3 && parts[0] == "layers" && absl::SimpleAtoi(parts[1], &layer)) {
    for (const NamePair& pair : kLayerNames) {
      if (parts[2] == pair.hf) return absl::StrCat("blk.", layer, ".", pair.gguf);
    }
  }
  return "";
}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path,
                                                             bool drafter) {
  auto checkpoint = std::make_unique<Checkpoint>();
  checkpoint->path_ = path;
  if (IsDirectory(path)) {
    absl::StatusOr<MappedFile> config_file = MappedFile::Open(path + "/config.json");
    if (!config_file.ok()) return config_file.status();
    const std::string text(reinterpret_cast<const char*>(config_file->data()), config_file->size());
    absl::StatusOr<Gemma4Config> config =
        drafter ? Gemma4DrafterConfigFromHfJson(text) : Gemma4ConfigFromHfJson(text);
    if (!config.ok()) return config.status();
    checkpoint->config_ = std::move(*config);
    absl::StatusOr<SafetensorsCheckpoint> tensors = SafetensorsCheckpoint::OpenDirectory(path);
    if (!tensors.ok()) return tensors.status();
    checkpoint->safetensors_ = std::move(*tensors);
    for (const char* prefix : {"model.language_model.", "model."}) {
      if (checkpoint->safetensors_->Find(absl::StrCat(prefix, "embed_tokens.weight")) != nullptr) {
        checkpoint->hf_prefix_ = prefix;
        break;
      }
    }
    if (checkpoint->hf_prefix_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": no model.language_model.embed_tokens.weight or model.embed_tokens.weight"));
    }
    return checkpoint;
  }
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(path);
  if (!gguf.ok()) return gguf.status();
  absl::StatusOr<Gemma4Config> config =
      drafter ? Gemma4DrafterConfigFromGguf(*gguf) : Gemma4ConfigFromGguf(*gguf);
  if (!config.ok()) return config.status();
  checkpoint->config_ = std::move(*config);
  checkpoint->gguf_ = std::move(*gguf);
  return checkpoint;
}

std::string Checkpoint::StoredName(const std::string& hf_name) const {
  if (gguf_) return GgufTensorName(hf_name);
  for (const char* name : kUnprefixedHfNames) {
    if (hf_name == name) return hf_name;
  }
  return hf_prefix_ + hf_name;
}

const TensorView* Checkpoint::Find(const std::string& hf_name) const {
  const std::string stored = StoredName(hf_name);
  if (stored.empty()) return nullptr;
  return gguf_ ? gguf_->FindTensor(stored) : safetensors_->Find(stored);
}

const TensorView* Checkpoint::FindStored(const std::string& stored_name) const {
  return safetensors_ ? safetensors_->Find(stored_name) : nullptr;
}

absl::StatusOr<const TensorView*> Checkpoint::Require(const std::string& hf_name) const {
  const TensorView* tensor = Find(hf_name);
  if (tensor == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(path_, ": tensor ", StoredName(hf_name), " is missing"));
  }
  return tensor;
}

}  // namespace gemma
