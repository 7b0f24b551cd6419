// Tensor-parallel Gemma 4: ranks (threads here, connected through Gloo over TCP exactly as
// separate processes are) must reproduce the single-rank model.
#include "engine/model/tensor_parallel.h"

#include <sys/stat.h>

#include <cstdlib>
#include <random>
#include <thread>

#include "engine/model/gemma4.h"
#include "engine/model/gemma4_drafter.h"
#include "engine/speculative_step.h"
#include "engine/tools/test_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parallel/gloo_communicator.h"

namespace gemma {
namespace {

constexpr int kBlock = 16;

std::string Dir() { return std::string(getenv("TEST_TMPDIR")); }

// A prompt with an image (n placeholder tokens at position 4; taken as plain tokens when the
// checkpoint has no image embedder, as GGUF test checkpoints do not) and random text around it.
struct Prompt {
  std::vector<int32_t> tokens;
  std::vector<float> patches;
  MediaSpan image;
  bool with_image = false;
};

Prompt MakePrompt(const Gemma4Model& model) {
  const int patch_dim = model.config().media.patch_dim;
  Prompt p;
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int32_t> id(3, 250000);
  std::uniform_real_distribution<float> pixel(0.f, 1.f);
  const int n = 6;
  p.tokens = {2, id(rng), id(rng), 255999};
  for (int i = 0; i < n; ++i) p.tokens.push_back(258880);
  p.tokens.push_back(258882);
  while (p.tokens.size() < 37) p.tokens.push_back(id(rng));
  p.patches.resize(static_cast<size_t>(n) * patch_dim);
  for (float& v : p.patches) v = pixel(rng);
  p.image = MediaSpan{MediaKind::kImage, 4, n, p.patches.data(), 3};
  p.with_image = model.embedders().image.has_value();
  return p;
}

struct RunResult {
  std::vector<float> prompt_logits;  // Every prompt position.
  std::vector<int32_t> greedy;       // Tokens decoded greedily after the prompt.
  absl::Status status;
  int64_t communication_ns = 0;
};

// Prefill (all logits) then greedy decode on one rank of `model`.
RunResult PrefillAndDecode(const Gemma4Model& model, const Prompt& prompt, int decode_steps) {
  RunResult result;
  KvCache cache(model.shard_config(), {kBlock, 8, 8});
  BlockTables tables = ConsecutiveBlockTables(8 * kBlock, kBlock);
  ForwardStats stats;
  result.status = model.Forward({{prompt.tokens, 0, &tables, /*all_logits=*/true,
                                  absl::MakeConstSpan(&prompt.image, prompt.with_image ? 1 : 0)}},
                                cache, &result.prompt_logits, {}, nullptr, &stats);
  if (!result.status.ok()) return result;
  const int vocab = model.config().vocab_size;
  auto argmax = [](const float* row, int n) {
    return static_cast<int32_t>(std::max_element(row, row + n) - row);
  };
  int32_t token = argmax(&result.prompt_logits[result.prompt_logits.size() - vocab], vocab);
  int position = static_cast<int>(prompt.tokens.size());
  for (int step = 0; step < decode_steps; ++step) {
    result.greedy.push_back(token);
    std::vector<float> logits;
    const int32_t input[1] = {token};
    result.status = model.Forward({{input, position++, &tables, false}}, cache, &logits, {},
                                  nullptr, &stats);
    if (!result.status.ok()) return result;
    token = argmax(logits.data(), vocab);
  }
  result.communication_ns = stats.communication_ns;
  return result;
}

// Runs `world` ranks of the checkpoint at `path`, each in its own thread with its own Gloo
// communicator; `body(rank, model)` returns that rank's result.
template <typename Body>
std::vector<RunResult> RunRanks(const std::string& path, int world, Body body,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const std::string store = Dir() + "/store_" + std::to_string(world) + "_" +
                            std::to_string(std::rand());
  mkdir(store.c_str(), 0755);
  std::vector<RunResult> results(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      parallel::GlooOptions options;
      options.rank = r;
      options.world_size = world;
      options.store_dir = store;
      options.timeout = timeout;
      auto communicator = parallel::GlooCommunicator::Connect(options);
      if (!communicator.ok()) {
        results[r].status = communicator.status();
        return;
      }
      auto model = Gemma4Model::Load(path, {r, world, communicator->get()});
      if (!model.ok()) {
        results[r].status = model.status();
        return;
      }
      results[r] = body(r, **model, std::move(*communicator));
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

class TensorParallelTest : public ::testing::TestWithParam<DType> {
 protected:
  static void SetUpTestSuite() {
    for (DType dtype : {DType::kF32, DType::kQ8_0}) {
      TestCheckpointOptions options;
      options.seed = 21;
      options.gguf_dtype = dtype;
      (dtype == DType::kF32 ? options.hf_dir : options.gguf_path) = Path(dtype);
      ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    }
  }
  static std::string Path(DType dtype) {
    // F32: the HF layout, which carries the image and audio embedders; Q8_0: GGUF.
    return Dir() + (dtype == DType::kF32 ? "/hf" : "/q8.gguf");
  }
};

TEST_P(TensorParallelTest, ShardedRanksReproduceOneRank) {
  auto single = Gemma4Model::Load(Path(GetParam()));
  ASSERT_TRUE(single.ok()) << single.status();
  const Prompt prompt = MakePrompt(**single);
  EXPECT_EQ(prompt.with_image, GetParam() == DType::kF32);
  const RunResult reference = PrefillAndDecode(**single, prompt, 12);
  ASSERT_TRUE(reference.status.ok()) << reference.status.ToString();
  for (int world : {2, 4}) {
    std::vector<RunResult> ranks = RunRanks(
        Path(GetParam()), world,
        [&](int, const Gemma4Model& model, std::unique_ptr<parallel::GlooCommunicator>) {
          return PrefillAndDecode(model, prompt, 12);
        });
    for (int r = 0; r < world; ++r) {
      ASSERT_TRUE(ranks[r].status.ok()) << "TP=" << world << " rank " << r << ": "
                                        << ranks[r].status;
      // Every rank ends a step with the same (all-gathered) logits.
      EXPECT_EQ(ranks[r].prompt_logits, ranks[0].prompt_logits) << "TP=" << world << " rank " << r;
      EXPECT_EQ(ranks[r].greedy, reference.greedy) << "TP=" << world << " rank " << r;
      EXPECT_GT(ranks[r].communication_ns, 0);
    }
    // Sums run in another order across ranks (partial products, then the all-reduce), and the
    // random norms of the test model amplify that rounding: measured max |diff| 2.2e-4 (f32, TP
    // 2) on logits of magnitude up to 30 (softcap), i.e. ~1e-5 relative; greedy tokens equal.
    ASSERT_EQ(ranks[0].prompt_logits.size(), reference.prompt_logits.size());
    float max_diff = 0;
    for (size_t i = 0; i < reference.prompt_logits.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(ranks[0].prompt_logits[i] - reference.prompt_logits[i]));
    }
    EXPECT_LT(max_diff, 5e-4) << "TP=" << world;
    std::printf("TP=%d: max |logit difference| over %zu logits: %.3g\n", world,
                reference.prompt_logits.size(), max_diff);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TensorParallelTest, ::testing::Values(DType::kF32, DType::kQ8_0));

// Speculative decoding (the MTP drafter sharded with its target): TP = 2 emits the same tokens,
// drafts and acceptances as TP = 1 (greedy).
std::vector<std::vector<int32_t>> SpeculativeRun(const Gemma4Model& model, const Drafter& drafter,
                                                 const Prompt& prompt, int steps) {
  KvCache cache(model.shard_config(), {kBlock, 8, 8});
  BlockTables tables = ConsecutiveBlockTables(8 * kBlock, kBlock);
  std::vector<float> logits, hidden;
  if (!model.Forward({{prompt.tokens, 0, &tables, false,
                       absl::MakeConstSpan(&prompt.image, prompt.with_image ? 1 : 0)}},
                     cache, &logits, {}, &hidden).ok()) {
    return {};
  }
  SpeculativeSequence sequence;
  sequence.blocks = &tables;
  sequence.token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  sequence.position = static_cast<int>(prompt.tokens.size());
  sequence.hidden = hidden;
  sequence.num_draft_tokens = 3;
  sequence.sampling.temperature = 0;
  PenaltyState penalties;
  sequence.penalties = &penalties;
  std::vector<std::vector<int32_t>> emitted;
  for (int step = 0; step < steps; ++step) {
    std::vector<SpeculativeOutcome> outcomes;
    if (!SpeculativeStep(model, &drafter, cache, {sequence}, &outcomes).ok()) return {};
    const SpeculativeOutcome& outcome = outcomes[0];
    std::vector<int32_t> record = outcome.drafts;
    record.push_back(-1);
    record.insert(record.end(), outcome.acceptance.tokens.begin(), outcome.acceptance.tokens.end());
    emitted.push_back(record);
    sequence.position += static_cast<int>(outcome.acceptance.tokens.size());
    sequence.token = outcome.acceptance.tokens.back();
    sequence.hidden = outcome.hidden;
    sequence.output_index += outcome.acceptance.tokens.size();
  }
  return emitted;
}

TEST(TensorParallelSpeculativeTest, ShardedDrafterMatchesOneRank) {
  TestCheckpointOptions options;
  options.seed = 31;
  options.echo = true;               // Greedy repeats the token: drafts get accepted.
  options.drafter_agreement = 0.6f;  // The drafter agrees on 60 % of the vocabulary.
  options.hf_dir = Dir() + "/spec";
  options.drafter_dir = Dir() + "/spec_drafter";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto single = Gemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(single.ok()) << single.status();
  auto single_drafter = Gemma4Drafter::Load(options.drafter_dir, **single);
  ASSERT_TRUE(single_drafter.ok()) << single_drafter.status();
  const Prompt prompt = MakePrompt(**single);
  const auto reference = SpeculativeRun(**single, **single_drafter, prompt, 6);
  ASSERT_EQ(reference.size(), 6u);
  std::vector<std::vector<std::vector<int32_t>>> emitted(2);
  std::vector<RunResult> ranks = RunRanks(
      options.hf_dir, 2,
      [&](int rank, const Gemma4Model& model, std::unique_ptr<parallel::GlooCommunicator>) {
        RunResult result;
        auto drafter = Gemma4Drafter::Load(options.drafter_dir, model);
        if (!drafter.ok()) {
          result.status = drafter.status();
          return result;
        }
        emitted[rank] = SpeculativeRun(model, **drafter, prompt, 6);
        return result;
      });
  for (int r = 0; r < 2; ++r) {
    ASSERT_TRUE(ranks[r].status.ok()) << ranks[r].status;
    EXPECT_EQ(emitted[r], reference) << "rank " << r;
  }
  int accepted = 0;
  for (const auto& step : reference) accepted += static_cast<int>(step.size()) - 3 - 1 - 1;
  EXPECT_GT(accepted, 0) << "no draft was accepted: the comparison would be weak";
}

TEST(TensorParallelShardingTest, ShardConfigAndKvHeadOwnership) {
  Gemma4Config c;
  c.num_heads = 16;
  c.intermediate_size = 128;
  c.vocab_size = 262144;
  c.sliding.num_kv_heads = 8;
  c.full.num_kv_heads = 1;
  parallel::Communicator* fake = reinterpret_cast<parallel::Communicator*>(1);
  for (int world : {1, 2, 4, 8}) {
    for (int rank = 0; rank < world; ++rank) {
      const TensorParallel tp{rank, world, fake};
      ASSERT_TRUE(ValidateSharding(c, tp).ok());
      const Gemma4Config local = ShardConfig(c, tp);
      EXPECT_EQ(local.num_heads, 16 / world);
      EXPECT_EQ(local.sliding.num_kv_heads, 8 / world);
      EXPECT_EQ(local.full.num_kv_heads, 1);
      EXPECT_EQ(FirstKvHead(c, c.sliding, tp), rank * 8 / world);
      EXPECT_EQ(FirstKvHead(c, c.full, tp), 0);
    }
  }
  c.full.num_kv_heads = 2;  // TP 4: ranks 0-1 read KV head 0, ranks 2-3 KV head 1.
  EXPECT_EQ(FirstKvHead(c, c.full, {1, 4, fake}), 0);
  EXPECT_EQ(FirstKvHead(c, c.full, {2, 4, fake}), 1);
  c.num_heads = 12;
  EXPECT_THAT(std::string(ValidateSharding(c, {0, 8, fake}).message()),
              ::testing::HasSubstr("query heads"));
  c.num_heads = 16;
  c.sliding.num_kv_heads = 6;
  EXPECT_THAT(std::string(ValidateSharding(c, {0, 4, fake}).message()),
              ::testing::HasSubstr("6 KV heads"));
  EXPECT_FALSE(ValidateSharding(c, {0, 2, nullptr}).ok());
}

TEST(TensorParallelFailureTest, APeerThatLeavesTurnsIntoUnavailable) {
  TestCheckpointOptions options;
  options.seed = 3;
  options.num_layers = 2;
  options.gguf_path = Dir() + "/small.gguf";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  const auto start = std::chrono::steady_clock::now();
  std::vector<RunResult> ranks = RunRanks(
      options.gguf_path, 2,
      [&](int rank, const Gemma4Model& model, std::unique_ptr<parallel::GlooCommunicator> comm) {
        if (rank == 1) {
          comm.reset();  // Rank 1 dies: its connections close.
          return RunResult{};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        Prompt prompt = MakePrompt(model);
        return PrefillAndDecode(model, prompt, 1);
      },
      std::chrono::seconds(3));
  EXPECT_EQ(ranks[0].status.code(), absl::StatusCode::kUnavailable) << ranks[0].status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

}  // namespace
}  // namespace gemma
