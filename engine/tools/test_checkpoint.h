// Seeded random-weight Gemma 4 checkpoints with the 12B's architecture scaled down, written as a
// Hugging Face directory and/or a GGUF file that llama.cpp loads (with the real Gemma 4
// vocabulary copied from a vocabulary GGUF). Both layouts hold the same values, so an engine must
// produce identical logits from either.
//
// Defaults mirror the 12B: 5 sliding : 1 full layers, 16 heads with 8 / 1 KV heads, head dims in
// the 12B's 1 : 2 ratio (32 / 64 here), k_eq_v full layers, proportional RoPE (a quarter of the
// full head dim rotates), a short window, softcap 30, and random layer scalars. Norm weights after
// attention and FFN are drawn from [2, 4] so the layers, not the tied embedding alone, decide the
// next token, and the embedding is scaled for peaked next-token distributions.
#ifndef GEMMA_ENGINE_TOOLS_TEST_CHECKPOINT_H_
#define GEMMA_ENGINE_TOOLS_TEST_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/dtype.h"

namespace gemma {

struct TestCheckpointOptions {
  uint64_t seed = 1;
  int hidden_size = 64;
  int intermediate_size = 128;
  int num_layers = 12;
  int num_heads = 16;
  int num_kv_heads_sliding = 8;
  int num_kv_heads_full = 1;
  int head_dim_sliding = 32;
  int head_dim_full = 64;
  int sliding_window = 16;
  int max_position = 4096;
  float embed_std = 0.5f;
  // The vocabulary GGUF whose tokenizer.* metadata (and size) the checkpoint takes.
  std::string vocab_gguf;
  // Where to write; empty skips that layout.
  std::string hf_dir;
  // Also write tokenizer.json, tokenizer_config.json and chat_template.jinja into hf_dir, from
  // the vocabulary GGUF (about 30 MB; off by default to keep tests fast).
  bool write_tokenizer = false;
  std::string gguf_path;
  // Echo target: post-attention and post-FFN norm weights are 0, so the layers add nothing and
  // the target's greedy next token is (almost always) the current token. With it, a drafter with
  // `drafter_agreement` in [0, 1] is built so that its greedy draft is the current token for that
  // fraction of the vocabulary (its embedding rows equal the target's there, random elsewhere):
  // a target/drafter pair whose acceptance rate is known by construction. A negative agreement
  // gives a random drafter.
  bool echo = false;
  float drafter_agreement = -1.f;
  // An MTP drafter for this target: 3 sliding + 1 full query-only layers, as an HF directory
  // and/or a GGUF of llama.cpp's arch gemma4-assistant (same values). With drafter_agreement >= 0
  // its hidden size is the target's.
  std::string drafter_dir;
  std::string drafter_gguf;
  int drafter_hidden_size = 32;
  int drafter_intermediate_size = 64;
  DType hf_dtype = DType::kF32;    // F32 or BF16 (values are rounded to BF16 for both layouts).
  DType gguf_dtype = DType::kF32;  // Matrices: F32, F16, BF16 or Q8_0; norms stay F32.
};

absl::Status WriteTestCheckpoint(const TestCheckpointOptions& options);

// The default vocabulary GGUF installed by scripts/setup.sh (GEMMA_VOCAB_GGUF overrides).
std::string DefaultVocabGguf();

}  // namespace gemma

#endif  // GEMMA_ENGINE_TOOLS_TEST_CHECKPOINT_H_
