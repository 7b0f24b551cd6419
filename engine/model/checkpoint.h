// A Gemma 4 checkpoint opened from either format, with tensors looked up by their Hugging Face
// name relative to the language model ("layers.3.self_attn.q_proj.weight", "embed_tokens.weight").
//   - A directory: config.json + model.safetensors (or shards + index). The prefix
//     "model.language_model." (Gemma4*ForConditionalGeneration) or "model." (Gemma4ForCausalLM)
//     is detected.
//   - A .gguf file of arch "gemma4" (a drafter: "gemma4-assistant"): names are translated to
//     llama.cpp's (kGlobalNames, kLayerNames in checkpoint.cc).
// Drafters keep pre_projection / post_projection at the top level of an HF directory.
// Keeps the files mapped for as long as it lives; tensor views point into them.
#ifndef GEMMA_ENGINE_MODEL_CHECKPOINT_H_
#define GEMMA_ENGINE_MODEL_CHECKPOINT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/io/gguf.h"
#include "engine/io/safetensors.h"
#include "engine/model/gemma4_config.h"

namespace gemma {

class Checkpoint {
 public:
  // `drafter`: an MTP drafter (assistant) checkpoint, HF directory or GGUF.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path,
                                                          bool drafter = false);

  const Gemma4Config& config() const { return config_; }
  const std::string& path() const { return path_; }
  bool is_gguf() const { return gguf_.has_value(); }
  const GgufFile* gguf() const { return gguf_ ? &*gguf_ : nullptr; }

  // nullptr when absent.
  const TensorView* Find(const std::string& hf_name) const;
  // The same, with NOT_FOUND naming both the logical and the on-disk name.
  absl::StatusOr<const TensorView*> Require(const std::string& hf_name) const;
  // A tensor by its full on-disk name (safetensors checkpoints; nullptr for GGUF or when absent).
  const TensorView* FindStored(const std::string& stored_name) const;
  // The name the tensor has on disk.
  std::string StoredName(const std::string& hf_name) const;

 private:
  std::string path_;
  Gemma4Config config_;
  std::optional<GgufFile> gguf_;
  std::optional<SafetensorsCheckpoint> safetensors_;
  std::string hf_prefix_;
};

// The GGUF name of a Hugging Face language-model tensor name; empty when there is none.
std::string GgufTensorName(const std::string& hf_name);

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_CHECKPOINT_H_
