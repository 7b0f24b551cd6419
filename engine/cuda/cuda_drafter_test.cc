// The GPU MTP drafter against the CPU drafter on a generated bf16 target/drafter pair, and
// batching: sequences drafted together draft as they do alone. Stated tolerance (bf16 GEMM
// inputs): each draft equals the CPU drafter's wherever the CPU's top two logits at that step
// differ by more than 0.5 (compared while the drafts so far agree). Skips without a GPU.
#include "engine/cuda/cuda_drafter.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/model/gemma4_drafter.h"
#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

constexpr int kBlock = 16;
constexpr int kVocab = 262144;

std::vector<int32_t> Prompt(uint64_t seed, int length) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> tokens = {2};
  while (static_cast<int>(tokens.size()) < length) tokens.push_back(3 + rng() % 262000);
  return tokens;
}

TEST(CudaDrafterTest, DraftsLikeTheCpuDrafterAndBatchesExactly) {
  std::string why;
  if (!HasGpu(&why)) GTEST_SKIP() << "GPU test skipped: " << why;
  TestCheckpointOptions options;
  options.seed = 29;
  options.num_layers = 6;
  options.hf_dtype = DType::kBF16;
  options.hf_dir = std::string(std::getenv("TEST_TMPDIR")) + "/target";
  options.drafter_dir = std::string(std::getenv("TEST_TMPDIR")) + "/drafter";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto cpu = Gemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto cpu_drafter = Gemma4Drafter::Load(options.drafter_dir, **cpu);
  ASSERT_TRUE(cpu_drafter.ok()) << cpu_drafter.status();
  auto gpu = CudaGemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto gpu_drafter = CudaGemma4Drafter::Load(options.drafter_dir, **gpu);
  ASSERT_TRUE(gpu_drafter.ok()) << gpu_drafter.status();
  auto cache = CudaKvCache::Create((*gpu)->config(), {kBlock, 16, 16});
  ASSERT_TRUE(cache.ok()) << cache.status();

  constexpr int kSteps = 4;
  const std::vector<std::vector<int32_t>> prompts = {Prompt(1, 30), Prompt(2, 11)};
  std::vector<BlockTables> tables = {ConsecutiveBlockTables(48, kBlock, 0),
                                     ConsecutiveBlockTables(48, kBlock, 4)};
  std::vector<DraftSequence> sequences;
  std::vector<int32_t> tokens;
  std::vector<float> all_hidden;
  int compared = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int32_t>& prompt = prompts[i];
    std::vector<float> logits, hidden;
    ASSERT_TRUE((*gpu)->Forward({{prompt, 0, &tables[i], false}}, *cache, &logits, &hidden).ok());
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const int position = static_cast<int>(prompt.size());
    std::vector<int32_t> gpu_drafts;
    const DraftSequence seq{&tables[i], position};
    ASSERT_TRUE((*gpu_drafter)
                    ->Draft(*cache, absl::MakeConstSpan(&seq, 1), absl::MakeConstSpan(&next, 1),
                            hidden, kSteps, &gpu_drafts)
                    .ok());
    // The CPU drafter on the CPU target's own cache and hidden state.
    KvCache cpu_cache((*cpu)->config(), {kBlock, 4, 4});
    BlockTables cpu_tables = ConsecutiveBlockTables(48, kBlock);
    std::vector<float> cpu_logits, cpu_hidden, step_logits;
    ASSERT_TRUE(
        (*cpu)
            ->Forward({{prompt, 0, &cpu_tables, false}}, cpu_cache, &cpu_logits, {}, &cpu_hidden)
            .ok());
    std::vector<int32_t> cpu_drafts;
    ASSERT_TRUE((*cpu_drafter)
                    ->DraftWithLogits(**cpu, cpu_cache, cpu_tables, next, position, cpu_hidden,
                                      kSteps, cpu::Gelu::kTanh, &cpu_drafts, &step_logits)
                    .ok());
    for (int s = 0; s < kSteps; ++s) {
      std::vector<float> row(&step_logits[size_t(s) * kVocab],
                             &step_logits[size_t(s + 1) * kVocab]);
      std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<float>());
      if (row[0] - row[1] > 0.5f) {
        EXPECT_EQ(gpu_drafts[s], cpu_drafts[s]) << "prompt " << i << " step " << s;
        ++compared;
      }
      if (gpu_drafts[s] != cpu_drafts[s]) break;  // Later steps see different inputs.
    }
    sequences.push_back(seq);
    tokens.push_back(next);
    all_hidden.insert(all_hidden.end(), hidden.begin(), hidden.end());
  }
  EXPECT_GT(compared, 0) << "every CPU draft was a near-tie: the check compared nothing";

  // Both sequences in one batch draft as each alone.
  std::vector<int32_t> batched;
  ASSERT_TRUE((*gpu_drafter)->Draft(*cache, sequences, tokens, all_hidden, kSteps, &batched).ok());
  for (size_t i = 0; i < sequences.size(); ++i) {
    std::vector<int32_t> alone;
    const std::vector<float> hidden(all_hidden.begin() + i * (*gpu)->config().hidden_size,
                                    all_hidden.begin() + (i + 1) * (*gpu)->config().hidden_size);
    ASSERT_TRUE((*gpu_drafter)
                    ->Draft(*cache, absl::MakeConstSpan(&sequences[i], 1),
                            absl::MakeConstSpan(&tokens[i], 1), hidden, kSteps, &alone)
                    .ok());
    EXPECT_EQ(
        std::vector<int32_t>(batched.begin() + i * kSteps, batched.begin() + (i + 1) * kSteps),
        alone)
        << "sequence " << i;
  }
  // Bad input is refused, not drafted.
  std::vector<int32_t> out;
  const int32_t bad = kVocab;
  EXPECT_EQ((*gpu_drafter)
                ->Draft(*cache, absl::MakeConstSpan(&sequences[0], 1), absl::MakeConstSpan(&bad, 1),
                        std::vector<float>((*gpu)->config().hidden_size), 2, &out)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gemma::cuda
