// Invariants of the forward pass on a generated checkpoint (the 12B's architecture scaled down,
// real vocabulary): both file layouts agree, and KV caching, batching, window eviction and
// rollback change nothing. The numbers themselves are checked against llama.cpp in
// tests/llama_parity.
#include "engine/model/gemma4.h"

#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/tools/test_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

constexpr int kBlock = 16;

std::string Dir() { return std::string(getenv("TEST_TMPDIR")); }

std::vector<int32_t> Prompt(int length, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> id(3, 262000);
  std::vector<int32_t> tokens = {2};
  while (static_cast<int>(tokens.size()) < length) tokens.push_back(id(rng));
  return tokens;
}

class Gemma4Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCheckpointOptions options;
    options.seed = 11;
    options.hf_dir = Dir() + "/hf";
    options.gguf_path = Dir() + "/model.gguf";
    ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    auto model = Gemma4Model::Load(options.gguf_path);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = model->release();
  }
  static void TearDownTestSuite() { delete model_; }

  KvCache NewCache(int blocks = 32) { return KvCache(model_->config(), {kBlock, blocks, blocks}); }

  std::vector<float> Run(std::vector<ForwardChunk> chunks, KvCache& cache) {
    std::vector<float> logits;
    absl::Status status = model_->Forward(chunks, cache, &logits);
    EXPECT_TRUE(status.ok()) << status;
    return logits;
  }

  // Logits of the last position after prefilling `prompt` alone.
  std::vector<float> LastLogits(const std::vector<int32_t>& prompt) {
    KvCache cache = NewCache();
    BlockTables tables = ConsecutiveBlockTables(static_cast<int>(prompt.size()), kBlock);
    return Run({{prompt, 0, &tables, false}}, cache);
  }

  int vocab() const { return model_->config().vocab_size; }

  static Gemma4Model* model_;
};

Gemma4Model* Gemma4Test::model_ = nullptr;

TEST_F(Gemma4Test, LoadsTheScaledDown12BArchitecture) {
  const Gemma4Config& c = model_->config();
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.num_layers(), 12);
  EXPECT_EQ(c.layer_types[5], LayerType::kFull);
  EXPECT_EQ(c.layer_types[4], LayerType::kSliding);
  EXPECT_TRUE(c.attention_k_eq_v);
  EXPECT_EQ(c.full.rotated_pairs, 8);  // A quarter of the 64-wide full head rotates.
  EXPECT_TRUE(model_->weights().layers[5].v.empty());
  EXPECT_FALSE(model_->weights().layers[4].v.empty());
  EXPECT_NE(model_->weights().layers[0].layer_scalar, 1.f);
}

TEST_F(Gemma4Test, HfDirectoryAndGgufGiveIdenticalLogits) {
  auto hf = Gemma4Model::Load(Dir() + "/hf");
  ASSERT_TRUE(hf.ok()) << hf.status();
  const std::vector<int32_t> prompt = Prompt(37, 1);
  KvCache a = NewCache(), b = NewCache();
  BlockTables tables = ConsecutiveBlockTables(37, kBlock);
  std::vector<float> from_gguf = Run({{prompt, 0, &tables, true}}, a);
  std::vector<float> from_hf;
  ASSERT_TRUE((*hf)->Forward({{prompt, 0, &tables, true}}, b, &from_hf).ok());
  EXPECT_EQ(from_gguf, from_hf);
}

TEST_F(Gemma4Test, KvCachedDecodeEqualsFullRecompute) {
  const std::vector<int32_t> prompt = Prompt(40, 2);
  KvCache full_cache = NewCache();
  BlockTables tables = ConsecutiveBlockTables(40, kBlock);
  std::vector<float> full = Run({{prompt, 0, &tables, true}}, full_cache);

  KvCache cache = NewCache();
  Run({{absl::MakeConstSpan(prompt).subspan(0, 29), 0, &tables, false}}, cache);
  for (int p = 29; p < 40; ++p) {
    std::vector<float> step = Run({{absl::MakeConstSpan(prompt).subspan(p, 1), p, &tables, false}}, cache);
    ASSERT_EQ(step, std::vector<float>(full.begin() + p * vocab(), full.begin() + (p + 1) * vocab()))
        << "position " << p;
  }
}

TEST_F(Gemma4Test, BatchedEqualsEachSequenceAlone) {
  const std::vector<int32_t> a = Prompt(23, 3), b = Prompt(9, 4), c = Prompt(35, 5);
  // b decodes its last token in the same step as a's prefill and c's second chunk.
  KvCache cache = NewCache(64);
  BlockTables ta = ConsecutiveBlockTables(23, kBlock, 0), tb = ConsecutiveBlockTables(9, kBlock, 10), tc = ConsecutiveBlockTables(35, kBlock, 20);
  Run({{absl::MakeConstSpan(b).subspan(0, 8), 0, &tb, false},
       {absl::MakeConstSpan(c).subspan(0, 20), 0, &tc, false}},
      cache);
  std::vector<float> batched = Run({{a, 0, &ta, false},
                                    {absl::MakeConstSpan(b).subspan(8, 1), 8, &tb, false},
                                    {absl::MakeConstSpan(c).subspan(20), 20, &tc, false}},
                                   cache);
  ASSERT_EQ(batched.size(), 3u * vocab());
  std::vector<float> alone_a = LastLogits(a), alone_b = LastLogits(b), alone_c = LastLogits(c);
  EXPECT_EQ(std::vector<float>(batched.begin(), batched.begin() + vocab()), alone_a);
  EXPECT_EQ(std::vector<float>(batched.begin() + vocab(), batched.begin() + 2 * vocab()), alone_b);
  EXPECT_EQ(std::vector<float>(batched.begin() + 2 * vocab(), batched.end()), alone_c);
}

TEST_F(Gemma4Test, SlidingBlocksOutsideTheWindowCanBeFreedAndReused) {
  // Window 16, blocks of 16: once position p >= 32 is decoded, logical sliding block 0 holds only
  // keys no query can see. Drop it from the table and scribble over it through another sequence.
  const std::vector<int32_t> prompt = Prompt(50, 6);
  std::vector<float> reference = LastLogits(prompt);

  KvCache cache = NewCache();
  BlockTables tables = ConsecutiveBlockTables(50, kBlock);
  Run({{absl::MakeConstSpan(prompt).subspan(0, 33), 0, &tables, false}}, cache);
  const int32_t freed = tables.sliding.front();
  tables.sliding.erase(tables.sliding.begin());
  tables.sliding_first_block = 1;
  BlockTables other;  // Another sequence now owns the freed sliding block.
  other.full = {30};
  other.sliding = {freed};
  Run({{Prompt(16, 7), 0, &other, false}}, cache);
  std::vector<float> logits;
  for (int p = 33; p < 50; ++p) {
    logits = Run({{absl::MakeConstSpan(prompt).subspan(p, 1), p, &tables, false}}, cache);
  }
  EXPECT_EQ(logits, reference);
}

TEST_F(Gemma4Test, RollbackEqualsNeverHavingDecoded) {
  const std::vector<int32_t> prompt = Prompt(20, 8);
  KvCache cache = NewCache();
  BlockTables tables = ConsecutiveBlockTables(24, kBlock);
  Run({{prompt, 0, &tables, false}}, cache);
  // Speculate three tokens at positions 20..22, then roll back to 20 and decode another token.
  const std::vector<int32_t> rejected = {1000, 2000, 3000};
  Run({{rejected, 20, &tables, true}}, cache);
  const int32_t accepted = 4242;
  std::vector<float> after_rollback = Run({{absl::MakeConstSpan(&accepted, 1), 20, &tables, false}}, cache);

  std::vector<int32_t> direct = prompt;
  direct.push_back(accepted);
  EXPECT_EQ(after_rollback, LastLogits(direct));
}

TEST_F(Gemma4Test, BadInputIsRejectedBeforeTheCacheIsTouched) {
  KvCache cache = NewCache(2);
  BlockTables tables = ConsecutiveBlockTables(20, kBlock);  // Blocks 0 and 1.
  std::vector<float> logits;
  const std::vector<int32_t> bad_token = {2, 262144};
  EXPECT_THAT(model_->Forward({{bad_token, 0, &tables, false}}, cache, &logits).message(),
              HasSubstr("token id 262144"));
  const std::vector<int32_t> tokens = Prompt(20, 9);
  BlockTables short_tables = ConsecutiveBlockTables(10, kBlock);
  EXPECT_THAT(model_->Forward({{tokens, 0, &short_tables, false}}, cache, &logits).message(),
              HasSubstr("does not cover position 16"));
  EXPECT_THAT(model_->Forward({{tokens, 4090, &tables, false}}, cache, &logits).message(),
              HasSubstr("exceeds the context"));
  EXPECT_EQ(model_->Forward({{{}, 0, &tables, false}}, cache, &logits).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Gemma4LoadTest, MisshapenTensorIsNamed) {
  TestCheckpointOptions options;
  options.num_layers = 2;
  options.hf_dir = Dir() + "/misshapen";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  std::ifstream in(options.hf_dir + "/config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  config.replace(config.find("\"intermediate_size\": 128"), 24, "\"intermediate_size\": 256");
  std::ofstream(options.hf_dir + "/config.json", std::ios::trunc) << config;
  auto model = Gemma4Model::Load(options.hf_dir);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(),
              HasSubstr("model.language_model.layers.0.mlp.gate_proj.weight has shape [128, 64], "
                        "expected [256, 64]"));
}

TEST(Gemma4LoadTest, TruncatedGgufIsDataLoss) {
  TestCheckpointOptions options;
  options.num_layers = 2;
  options.gguf_path = Dir() + "/truncated.gguf";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  std::ifstream in(options.gguf_path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);
  std::ofstream(options.gguf_path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(Gemma4Model::Load(options.gguf_path).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Gemma4LoadTest, Bf16HfDirectoryAndBf16GgufGiveIdenticalLogits) {
  TestCheckpointOptions options;
  options.num_layers = 6;
  options.hf_dtype = DType::kBF16;
  options.gguf_dtype = DType::kBF16;
  options.hf_dir = Dir() + "/bf16";
  options.gguf_path = Dir() + "/bf16.gguf";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto hf = Gemma4Model::Load(options.hf_dir);
  auto gguf = Gemma4Model::Load(options.gguf_path);
  ASSERT_TRUE(hf.ok() && gguf.ok());
  EXPECT_EQ((*hf)->weights().embed.dtype, DType::kBF16);
  EXPECT_EQ((*hf)->weights().embed_scale, 8.f);  // sqrt(64) in bf16.
  const std::vector<int32_t> prompt = Prompt(12, 12);
  BlockTables tables = ConsecutiveBlockTables(12, kBlock);
  KvCache c1((*hf)->config(), {kBlock, 1, 1}), c2((*gguf)->config(), {kBlock, 1, 1});
  std::vector<float> a, b;
  ASSERT_TRUE((*hf)->Forward({{prompt, 0, &tables, true}}, c1, &a).ok());
  ASSERT_TRUE((*gguf)->Forward({{prompt, 0, &tables, true}}, c2, &b).ok());
  EXPECT_EQ(a, b);
}

// Q8_0 matrix products are checked exactly in kernels_test; end to end, random weights with
// post-norm gains of 2-4 amplify the ~0.5% quantization noise, so the bound here is loose.
TEST(Gemma4LoadTest, Q8_0CheckpointStaysCloseToF32) {
  TestCheckpointOptions options;
  options.num_layers = 6;
  options.seed = 5;
  options.gguf_path = Dir() + "/f32.gguf";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  options.gguf_path = Dir() + "/q8.gguf";
  options.gguf_dtype = DType::kQ8_0;
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto f32 = Gemma4Model::Load(Dir() + "/f32.gguf");
  auto q8 = Gemma4Model::Load(Dir() + "/q8.gguf");
  ASSERT_TRUE(f32.ok() && q8.ok());
  EXPECT_EQ((*q8)->weights().layers[0].q.dtype, DType::kQ8_0);
  const std::vector<int32_t> prompt = Prompt(12, 10);
  BlockTables tables = ConsecutiveBlockTables(12, kBlock);
  KvCache c1((*f32)->config(), {kBlock, 1, 1}), c2((*q8)->config(), {kBlock, 1, 1});
  std::vector<float> a, b;
  ASSERT_TRUE((*f32)->Forward({{prompt, 0, &tables, true}}, c1, &a).ok());
  ASSERT_TRUE((*q8)->Forward({{prompt, 0, &tables, true}}, c2, &b).ok());
  // Same argmax at most positions and a small distance in logits.
  const int vocab = (*f32)->config().vocab_size;
  int same_top = 0;
  double diff = 0, norm = 0;
  for (int p = 0; p < 12; ++p) {
    auto top = [&](const std::vector<float>& l) {
      return std::max_element(l.begin() + p * vocab, l.begin() + (p + 1) * vocab) - l.begin();
    };
    same_top += top(a) == top(b);
  }
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += a[i] * a[i];
  }
  EXPECT_GE(same_top, 7);
  EXPECT_LT(std::sqrt(diff / norm), 0.12);
}

}  // namespace
}  // namespace gemma
