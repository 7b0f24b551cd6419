// The MTP drafter loads from either layout: an HF directory and a GGUF of llama.cpp's
// gemma4-assistant arch holding the same values give the same config, the same drafts and
// bitwise-identical logits. (Against llama.cpp itself: tests/llama_parity/drafter_parity_test.)
#include "engine/model/gemma4_drafter.h"

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/model/checkpoint.h"
#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

class Gemma4DrafterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCheckpointOptions options;
    options.num_layers = 6;
    options.seed = 17;
    options.hf_dir = TempPath("target");
    options.gguf_path = TempPath("target.gguf");
    options.drafter_dir = TempPath("drafter");
    options.drafter_gguf = TempPath("drafter.gguf");
    absl::Status written = WriteTestCheckpoint(options);
    ASSERT_TRUE(written.ok()) << written;
  }
};

TEST_F(Gemma4DrafterTest, GgufConfigEqualsTheHfConfig) {
  auto hf = Checkpoint::Open(TempPath("drafter"), /*drafter=*/true);
  auto gguf = Checkpoint::Open(TempPath("drafter.gguf"), /*drafter=*/true);
  ASSERT_TRUE(hf.ok()) << hf.status();
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  const Gemma4Config& a = (*hf)->config();
  const Gemma4Config& b = (*gguf)->config();
  EXPECT_EQ(b.drafter_backbone_hidden_size, 64);
  EXPECT_EQ(a.drafter_backbone_hidden_size, b.drafter_backbone_hidden_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.layer_types, b.layer_types);
  EXPECT_EQ(b.layer_types.size(), 4u);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
    EXPECT_EQ(a.geometry(type).head_dim, b.geometry(type).head_dim);
    EXPECT_EQ(a.geometry(type).num_kv_heads, b.geometry(type).num_kv_heads);
    EXPECT_EQ(a.geometry(type).rotated_pairs, b.geometry(type).rotated_pairs);
    EXPECT_EQ(a.geometry(type).rope_theta, b.geometry(type).rope_theta);
  }
  EXPECT_EQ(b.full.rotated_pairs, 8);  // A quarter of 64 / 2, from rope_freqs.
  // Every tensor the drafter needs resolves in both layouts.
  for (const char* name :
       {"embed_tokens.weight", "norm.weight", "pre_projection.weight", "post_projection.weight",
        "layers.3.self_attn.q_proj.weight", "layers.0.layer_scalar"}) {
    EXPECT_NE((*hf)->Find(name), nullptr) << name;
    EXPECT_NE((*gguf)->Find(name), nullptr) << name;
  }
  EXPECT_EQ((*gguf)->StoredName("pre_projection.weight"), "nextn.pre_projection.weight");
  EXPECT_EQ((*hf)->StoredName("pre_projection.weight"), "pre_projection.weight");
}

TEST_F(Gemma4DrafterTest, HfAndGgufDraftersDraftIdentically) {
  auto target = Gemma4Model::Load(TempPath("target.gguf"));
  ASSERT_TRUE(target.ok()) << target.status();
  auto hf = Gemma4Drafter::Load(TempPath("drafter"), **target);
  auto gguf = Gemma4Drafter::Load(TempPath("drafter.gguf"), **target);
  ASSERT_TRUE(hf.ok()) << hf.status();
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  std::mt19937_64 rng(5);
  std::vector<int32_t> prompt = {2};
  for (int i = 0; i < 40; ++i) prompt.push_back(3 + rng() % 262000);  // Past the window (16).
  KvCache cache((*target)->config(), {16, 4, 4});
  BlockTables tables = ConsecutiveBlockTables(64, 16);
  std::vector<float> logits, hidden;
  ASSERT_TRUE((*target)->Forward({{prompt, 0, &tables, false}}, cache, &logits, {}, &hidden).ok());
  const int32_t next =
      static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const int position = static_cast<int>(prompt.size());
  std::vector<int32_t> drafts_hf, drafts_gguf;
  std::vector<float> logits_hf, logits_gguf;
  ASSERT_TRUE((*hf)
                  ->DraftWithLogits(**target, cache, tables, next, position, hidden, 4,
                                    cpu::Gelu::kTanh, &drafts_hf, &logits_hf)
                  .ok());
  ASSERT_TRUE((*gguf)
                  ->DraftWithLogits(**target, cache, tables, next, position, hidden, 4,
                                    cpu::Gelu::kTanh, &drafts_gguf, &logits_gguf)
                  .ok());
  ASSERT_EQ(drafts_hf.size(), 4u);
  EXPECT_EQ(drafts_hf, drafts_gguf);
  ASSERT_EQ(logits_hf.size(), 4u * 262144);
  EXPECT_EQ(logits_hf, logits_gguf);
  // Draft() is DraftWithLogits with the exact GELU.
  std::vector<int32_t> plain;
  ASSERT_TRUE((*gguf)->Draft(**target, cache, tables, next, position, hidden, 4, &plain).ok());
  EXPECT_EQ(plain, drafts_gguf);
  // Each draft is its step's argmax.
  for (int step = 0; step < 4; ++step) {
    const float* row = &logits_gguf[static_cast<size_t>(step) * 262144];
    EXPECT_EQ(std::max_element(row, row + 262144) - row, drafts_gguf[step]);
  }
}

TEST_F(Gemma4DrafterTest, ATargetGgufIsNotADrafter) {
  auto target = Gemma4Model::Load(TempPath("target.gguf"));
  ASSERT_TRUE(target.ok()) << target.status();
  auto wrong = Gemma4Drafter::Load(TempPath("target.gguf"), **target);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("is not gemma4-assistant"), std::string::npos)
      << wrong.status();
  auto also_wrong = Gemma4Model::Load(TempPath("drafter.gguf"));
  EXPECT_EQ(also_wrong.status().code(), absl::StatusCode::kInvalidArgument) << also_wrong.status();
}

}  // namespace
}  // namespace gemma
