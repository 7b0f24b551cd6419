#include "engine/model/gemma4_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

// The shape of google/gemma-4-12B's config.json (text part), per the architecture notes.
constexpr char k12B[] = R"({
  "architectures": ["Gemma4UnifiedForConditionalGeneration"],
  "model_type": "gemma4_unified",
  "text_config": {
    "model_type": "gemma4_unified_text",
    "hidden_size": 3840, "intermediate_size": 15360, "num_hidden_layers": 48,
    "num_attention_heads": 16, "num_key_value_heads": 8, "num_global_key_value_heads": 1,
    "head_dim": 256, "global_head_dim": 512, "attention_k_eq_v": true, "sliding_window": 1024,
    "rope_parameters": {
      "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
      "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25,
                         "rope_theta": 1000000.0}},
    "rms_norm_eps": 1e-06, "final_logit_softcapping": 30.0, "vocab_size": 262144,
    "max_position_embeddings": 262144, "hidden_size_per_layer_input": 0,
    "num_kv_shared_layers": 0, "use_bidirectional_attention": "vision"
  }
})";

TEST(Gemma4ConfigTest, Parses12BShape) {
  absl::StatusOr<Gemma4Config> c = Gemma4ConfigFromHfJson(k12B);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "Gemma4UnifiedForConditionalGeneration");
  EXPECT_EQ(c->num_layers(), 48);
  // Every 6th layer is full attention (5, 11, ..., 47).
  for (int i = 0; i < 48; ++i) {
    EXPECT_EQ(c->layer_types[i], (i + 1) % 6 == 0 ? LayerType::kFull : LayerType::kSliding) << i;
  }
  EXPECT_EQ(c->sliding.num_kv_heads, 8);
  EXPECT_EQ(c->full.num_kv_heads, 1);
  EXPECT_EQ(c->sliding.head_dim, 256);
  EXPECT_EQ(c->full.head_dim, 512);
  EXPECT_EQ(c->sliding.rotated_pairs, 128);
  EXPECT_EQ(c->full.rotated_pairs, 64);  // floor(0.25 * 512 / 2)
  EXPECT_EQ(c->full.rope_theta, 1e6f);
  EXPECT_TRUE(c->attention_k_eq_v);
  EXPECT_FALSE(c->has_v_proj(LayerType::kFull));
  EXPECT_TRUE(c->has_v_proj(LayerType::kSliding));
  EXPECT_TRUE(c->bidirectional_vision);
  EXPECT_EQ(c->final_logit_softcap, 30.f);
}

TEST(Gemma4ConfigTest, MissingFieldIsNamed) {
  std::string json = k12B;
  json.replace(json.find("\"hidden_size\""), 13, "\"hidden_sizeX\"");
  EXPECT_THAT(Gemma4ConfigFromHfJson(json).status().message(), HasSubstr("hidden_size"));
}

TEST(Gemma4ConfigTest, RejectsOtherModelsAndDrafters) {
  EXPECT_THAT(Gemma4ConfigFromHfJson(R"({"model_type": "llama"})").status().message(),
              HasSubstr("not a Gemma 4"));
  EXPECT_THAT(Gemma4ConfigFromHfJson(R"({"model_type": "gemma4_unified_assistant"})")
                  .status()
                  .message(),
              HasSubstr("drafter"));
  EXPECT_EQ(Gemma4ConfigFromHfJson("not json").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Gemma4ConfigTest, UnsupportedVariantsAreUnimplemented) {
  std::string ple = k12B;
  ple.replace(ple.find("\"hidden_size_per_layer_input\": 0"), 32,
              "\"hidden_size_per_layer_input\": 256");
  EXPECT_EQ(Gemma4ConfigFromHfJson(ple).status().code(), absl::StatusCode::kUnimplemented);
  std::string shared = k12B;
  shared.replace(shared.find("\"num_kv_shared_layers\": 0"), 25, "\"num_kv_shared_layers\": 20");
  EXPECT_THAT(Gemma4ConfigFromHfJson(shared).status().message(), HasSubstr("KV-shared"));
}

TEST(Gemma4ConfigTest, ValidationCatchesInconsistentHeads) {
  absl::StatusOr<Gemma4Config> c = Gemma4ConfigFromHfJson(k12B);
  ASSERT_TRUE(c.ok());
  Gemma4Config bad = *c;
  bad.sliding.num_kv_heads = 5;
  EXPECT_THAT(ValidateGemma4Config(bad).message(), HasSubstr("multiple"));
  bad = *c;
  bad.layer_types.back() = LayerType::kSliding;
  EXPECT_THAT(ValidateGemma4Config(bad).message(), HasSubstr("last layer"));
}

}  // namespace
}  // namespace gemma
