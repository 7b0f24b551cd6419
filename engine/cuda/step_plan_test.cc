// The GPU step plan against the CPU engine's cache addressing (KvCache::BlockOf) and masking
// rules: every visible key of every row, for mixed prefill + decode steps, sliding tables that
// dropped blocks, window boundaries and bidirectional images; and the same input errors.
#include "engine/cuda/step_plan.h"

#include <set>

#include "engine/kv_cache.h"
#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

constexpr int kBlock = 4;

Gemma4Config TestConfig() {
  Gemma4Config c;
  c.hidden_size = 8;
  c.intermediate_size = 8;
  c.num_heads = 2;
  c.layer_types = {LayerType::kSliding, LayerType::kFull};
  c.sliding = {1, 4, 1e4f, 2};
  c.full = {1, 8, 1e6f, 4};
  c.sliding_window = 6;
  c.max_position = 64;
  c.vocab_size = 100;
  c.bidirectional_vision = true;
  return c;
}

// Tables as a block manager leaves them: full blocks scattered, sliding blocks dropped below
// the window (the first kept logical block is `sliding_first`).
BlockTables Tables(int positions, int32_t offset, int sliding_first) {
  BlockTables t;
  const int blocks = (positions + kBlock - 1) / kBlock;
  for (int b = 0; b < blocks; ++b) t.full.push_back(offset + 3 * b);
  t.sliding_first_block = sliding_first;
  for (int b = sliding_first; b < blocks; ++b) t.sliding.push_back(offset + 2 * b + 1);
  return t;
}

// The visible keys of row `position` by the CPU engine's rule (gemma4.cc), as physical rows.
std::set<int32_t> ExpectedKeys(const KvCache& cache, const BlockTables& tables, LayerType type,
                               int position, int window, int image_begin, int image_end) {
  int first = type == LayerType::kFull ? 0 : std::max(0, position - window + 1);
  int last = position;
  if (type == LayerType::kSliding && position >= image_begin && position < image_end) {
    first = std::min(first, image_begin);
    last = image_end - 1;
  }
  std::set<int32_t> keys;
  for (int j = first; j <= last; ++j) {
    keys.insert(cache.BlockOf(tables, type, j) * kBlock + j % kBlock);
  }
  return keys;
}

TEST(StepPlanTest, KeysAndSlotsFollowTheCpuRules) {
  const Gemma4Config c = TestConfig();
  KvCache cache(c, {kBlock, 64, 64});
  // A decode at position 13 (sliding blocks below logical 2 dropped), a prefill of 9 positions
  // from 0 with an image at [2, 5), and a prefill continuing at 10.
  const BlockTables a = Tables(14, 0, 2), b = Tables(9, 100, 0), d = Tables(16, 200, 1);
  const std::vector<int32_t> decode = {7}, prefill(9, 5), rest(6, 9);
  const MediaSpan image{MediaKind::kImage, 2, 3, nullptr, 3};
  std::vector<ForwardChunk> chunks = {{decode, 13, &a, false},
                                      {prefill, 0, &b, true, absl::MakeConstSpan(&image, 1)},
                                      {rest, 10, &d, false}};
  absl::StatusOr<StepPlan> plan = PlanStep(chunks, c, kBlock);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->rows, 16);
  EXPECT_EQ(plan->logits_rows, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15}));
  int row = 0;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const ForwardChunk& chunk = chunks[ci];
    for (size_t i = 0; i < chunk.tokens.size(); ++i, ++row) {
      const int p = chunk.start_position + static_cast<int>(i);
      EXPECT_EQ(plan->positions[row], p);
      EXPECT_EQ(plan->tokens[row], chunk.tokens[i]);
      for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
        const AttentionPlan& ap = plan->ForType(type);
        EXPECT_EQ(ap.store_slot[row], cache.BlockOf(*chunk.blocks, type, p) * kBlock + p % kBlock);
        std::set<int32_t> got;
        for (int j = ap.first_key[row]; j <= ap.last_key[row]; ++j) {
          got.insert(ap.key_slots[ap.key_base[row] + j]);
        }
        const int image_begin = ci == 1 ? 2 : -1, image_end = ci == 1 ? 5 : -1;
        EXPECT_EQ(got, ExpectedKeys(cache, *chunk.blocks, type, p, c.sliding_window, image_begin,
                                    image_end))
            << "chunk " << ci << " position " << p;
      }
    }
  }
  // Spot checks of the rules themselves: the window's lower edge, and the image.
  const AttentionPlan& sliding = plan->ForType(LayerType::kSliding);
  EXPECT_EQ(sliding.first_key[0], 13 - 6 + 1);
  EXPECT_EQ(sliding.last_key[0], 13);
  EXPECT_EQ(sliding.last_key[1 + 2], 4);  // Position 2 sees the image's later positions.
  EXPECT_EQ(plan->ForType(LayerType::kFull).last_key[1 + 2], 2);  // Full layers stay causal.
  EXPECT_EQ(plan->ForType(LayerType::kFull).first_key[0], 0);
  EXPECT_EQ(plan->ForType(LayerType::kFull).max_keys, 16);  // Position 15 of the third chunk.
  EXPECT_EQ(sliding.max_keys, 6);
}

TEST(StepPlanTest, RejectsWhatTheCpuEngineRejects) {
  const Gemma4Config c = TestConfig();
  const BlockTables short_tables = Tables(4, 0, 0), dropped = Tables(14, 0, 3);
  const std::vector<int32_t> ok = {1, 2}, bad_token = {1, 100};
  auto code = [&](std::vector<ForwardChunk> chunks) {
    return PlanStep(chunks, c, kBlock).status().code();
  };
  EXPECT_EQ(code({{bad_token, 0, &short_tables, false}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{ok, 3, &short_tables, false}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{ok, 63, &dropped, false}}), absl::StatusCode::kInvalidArgument);
  // Position 12 needs sliding keys from 7 (logical block 1), which `dropped` no longer holds.
  EXPECT_EQ(code({{ok, 12, &dropped, false}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{{}, 0, &short_tables, false}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{ok, 0, nullptr, false}}), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(PlanStep({{ok, 0, &short_tables, false}}, c, kBlock).ok());
}

// The drafter reads keys j < p (sliding: j > p - W), as Gemma4Drafter::Draft does on the CPU.
TEST(StepPlanTest, DraftRowsReadTheTargetKeysBeforeTheirPosition) {
  const Gemma4Config c = TestConfig();
  KvCache cache(c, {kBlock, 64, 64});
  const BlockTables a = Tables(20, 0, 2), b = Tables(4, 100, 0);
  const std::vector<DraftSequence> sequences = {{&a, 17}, {&b, 3}};
  absl::StatusOr<StepPlan> plan = PlanDraft(sequences, c, kBlock);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->rows, 2);
  EXPECT_EQ(plan->positions, (std::vector<int32_t>{17, 3}));
  for (int r = 0; r < 2; ++r) {
    const int p = sequences[r].position;
    for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
      const AttentionPlan& ap = plan->ForType(type);
      std::set<int32_t> got, want;
      for (int j = ap.first_key[r]; j <= ap.last_key[r]; ++j) {
        got.insert(ap.key_slots[ap.key_base[r] + j]);
      }
      for (int j = 0; j < p; ++j) {
        if (type == LayerType::kSliding && j <= p - c.sliding_window) continue;
        want.insert(cache.BlockOf(*sequences[r].blocks, type, j) * kBlock + j % kBlock);
      }
      EXPECT_EQ(got, want) << "row " << r;
      EXPECT_EQ(ap.last_key[r], p - 1);
    }
  }
  EXPECT_EQ(plan->ForType(LayerType::kSliding).first_key[0], 17 - 6 + 1);
  EXPECT_EQ(plan->ForType(LayerType::kFull).max_keys, 17);
  // Position 0 has nothing to read; tables must cover every key.
  const std::vector<DraftSequence> at_zero = {{&b, 0}}, uncovered = {{&b, 9}};
  EXPECT_EQ(PlanDraft(at_zero, c, kBlock).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanDraft(uncovered, c, kBlock).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gemma::cuda
