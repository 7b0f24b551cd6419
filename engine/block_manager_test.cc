#include "engine/block_manager.h"

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/model/gemma4.h"
#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

constexpr int kBlock = 16;
constexpr int kWindow = 16;

std::vector<uint64_t> Keys(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> keys(count);
  for (uint64_t& k : keys) k = 3 + rng() % 262000;
  keys[0] = 2;
  return keys;
}

std::vector<int32_t> Tokens(const std::vector<uint64_t>& keys) {
  return std::vector<int32_t>(keys.begin(), keys.end());
}

TEST(BlockPoolTest, FreedHashedBlocksStayRevivableUntilReused) {
  BlockPool pool(2);
  const std::vector<uint64_t> keys = {1, 2, 3};
  int32_t a = *pool.Allocate();
  pool.SetHash(a, 42, keys);
  pool.Release(a);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_EQ(pool.Revive(42, keys), a);
  EXPECT_EQ(pool.refs(a), 1);
  EXPECT_FALSE(pool.Revive(42, std::vector<uint64_t>{1, 2, 4}).has_value());  // Collision guard.
  pool.Release(a);
  int32_t b = *pool.Allocate();  // Takes the never-hashed block first.
  EXPECT_NE(b, a);
  int32_t c = *pool.Allocate();  // Then the cached one, dropping its hash.
  EXPECT_EQ(c, a);
  EXPECT_FALSE(pool.Revive(42, keys).has_value());
  EXPECT_FALSE(pool.Allocate().has_value());
}

TEST(BlockManagerTest, GrowsTablesAndFreesEverything) {
  BlockManager manager({kBlock, 8, 8}, kWindow);
  std::vector<uint64_t> prompt = Keys(20, 1);
  ASSERT_EQ(*manager.AddSequence(1, prompt), 0);
  ASSERT_TRUE(manager.Append(1, prompt).ok());
  EXPECT_EQ(manager.tables(1)->full.size(), 2u);
  EXPECT_EQ(manager.length(1), 20);
  manager.Commit(1);
  EXPECT_EQ(manager.full_pool().num_used(), 2);
  manager.Free(1);
  EXPECT_EQ(manager.full_pool().num_used(), 0);
  EXPECT_EQ(manager.sliding_pool().num_used(), 0);
  EXPECT_EQ(manager.full_usage(), 0.0);
}

TEST(BlockManagerTest, SlidingTablesNeverOutgrowTheWindow) {
  BlockManager manager({kBlock, 64, 3}, kWindow);  // Three sliding blocks must always suffice.
  std::vector<uint64_t> keys = Keys(600, 2);
  ASSERT_TRUE(manager.AddSequence(7, {keys.data(), 1}).ok());
  for (int p = 0; p < 600; ++p) {
    ASSERT_TRUE(manager.Append(7, {keys.data() + p, 1}).ok()) << "position " << p;
    manager.Commit(7);
    const BlockTables& t = *manager.tables(7);
    ASSERT_LE(t.sliding.size(), 2u) << "position " << p;
    // Every key position the query at p sees is covered.
    const int first_visible = std::max(0, p - kWindow + 1);
    ASSERT_LE(t.sliding_first_block * kBlock, first_visible);
  }
  EXPECT_EQ(manager.tables(7)->full.size(), 38u);
}

TEST(BlockManagerTest, ExhaustionChangesNothing) {
  BlockManager manager({kBlock, 2, 2}, kWindow);
  std::vector<uint64_t> keys = Keys(40, 3);
  ASSERT_TRUE(manager.AddSequence(1, {keys.data(), 1}).ok());
  EXPECT_FALSE(manager.CanAppend(1, 40));
  absl::Status status = manager.Append(1, keys);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(manager.length(1), 0);
  EXPECT_EQ(manager.full_pool().num_used(), 0);
  EXPECT_TRUE(manager.Append(1, {keys.data(), 32}).ok());
}

TEST(BlockManagerTest, TruncateReturnsBlocksAndForgetsPartialHashes) {
  BlockManager manager({kBlock, 8, 8}, 64);
  std::vector<uint64_t> keys = Keys(40, 4);
  ASSERT_TRUE(manager.AddSequence(1, {keys.data(), 1}).ok());
  ASSERT_TRUE(manager.Append(1, keys).ok());
  manager.Commit(1);
  EXPECT_EQ(manager.full_pool().num_used(), 3);
  ASSERT_TRUE(manager.Truncate(1, 17).ok());
  EXPECT_EQ(manager.length(1), 17);
  EXPECT_EQ(manager.tables(1)->full.size(), 2u);
  EXPECT_EQ(manager.full_pool().num_used(), 2);
  EXPECT_EQ(manager.Truncate(1, 30).code(), absl::StatusCode::kInvalidArgument);
  manager.Free(1);
  // Block 0 (complete, committed) is still cached; block 1 was cut, so a prompt sharing 32
  // positions gets only the first block back.
  std::vector<uint64_t> again(keys.begin(), keys.begin() + 40);
  EXPECT_EQ(*manager.AddSequence(2, again), 16);
}

TEST(BlockManagerTest, SpeculativeReservationsAreRewrittenBeforeCommit) {
  BlockManager manager({kBlock, 8, 8}, 64);
  std::vector<uint64_t> prompt = Keys(15, 8);
  ASSERT_TRUE(manager.AddSequence(1, prompt).ok());
  ASSERT_TRUE(manager.Append(1, prompt).ok());
  manager.Commit(1);
  // Reserve the input token plus three drafts (unknown yet: placeholders), accept one.
  const std::vector<uint64_t> reserved = {777, 0, 0, 0};
  ASSERT_TRUE(manager.Append(1, reserved).ok());
  ASSERT_TRUE(manager.Truncate(1, 17).ok());
  const uint64_t accepted = 4242;
  ASSERT_TRUE(manager.RewriteUncommitted(1, 16, absl::MakeConstSpan(&accepted, 1)).ok());
  EXPECT_EQ(manager.RewriteUncommitted(1, 10, absl::MakeConstSpan(&accepted, 1)).code(),
            absl::StatusCode::kFailedPrecondition);  // Committed already.
  manager.Commit(1);
  manager.Free(1);
  // The block holding positions 0..15 is cached with the real keys, the partial one is not.
  std::vector<uint64_t> again = prompt;
  again.push_back(777);
  again.push_back(accepted);
  again.push_back(5);
  EXPECT_EQ(*manager.AddSequence(2, again), 16);
}

// Prefix caching end to end: a second sequence that shares a 40-position prefix revives its
// blocks, computes only the rest, and gets the logits of a full recompute.
TEST(BlockManagerTest, PrefixHitSkipsComputeAndChangesNoLogits) {
  TestCheckpointOptions options;
  options.num_layers = 6;
  options.gguf_path = std::string(getenv("TEST_TMPDIR")) + "/prefix.gguf";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto model = Gemma4Model::Load(options.gguf_path);
  ASSERT_TRUE(model.ok()) << model.status();
  const KvCacheOptions cache_options{kBlock, 16, 16};
  KvCache cache((*model)->config(), cache_options);
  BlockManager manager(cache_options, (*model)->config().sliding_window);

  std::vector<uint64_t> shared = Keys(40, 5);
  std::vector<uint64_t> first = shared, second = shared;
  for (uint64_t k : Keys(10, 6)) first.push_back(k);
  for (uint64_t k : Keys(13, 7)) second.push_back(k + 1);

  auto run = [&](uint64_t id, const std::vector<uint64_t>& prompt, int cached) {
    const std::vector<int32_t> tokens = Tokens(prompt);
    EXPECT_TRUE(manager.Append(id, absl::MakeConstSpan(prompt).subspan(cached)).ok());
    std::vector<float> logits;
    absl::Status status = (*model)->Forward(
        {{absl::MakeConstSpan(tokens).subspan(cached), cached, manager.tables(id), false}}, cache,
        &logits);
    EXPECT_TRUE(status.ok()) << status;
    manager.Commit(id);
    return logits;
  };
  ASSERT_EQ(*manager.AddSequence(1, first), 0);
  run(1, first, 0);
  manager.Free(1);  // Its blocks stay cached.

  absl::StatusOr<int> cached = manager.AddSequence(2, second);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(*cached, 32);  // Two whole blocks of the 40 shared positions.
  std::vector<float> with_prefix = run(2, second, *cached);

  KvCache fresh((*model)->config(), cache_options);
  BlockManager fresh_manager(cache_options, (*model)->config().sliding_window);
  ASSERT_EQ(*fresh_manager.AddSequence(9, second), 0);
  ASSERT_TRUE(fresh_manager.Append(9, second).ok());
  std::vector<float> recomputed;
  const std::vector<int32_t> tokens = Tokens(second);
  ASSERT_TRUE((*model)->Forward({{tokens, 0, fresh_manager.tables(9), false}}, fresh, &recomputed).ok());
  EXPECT_EQ(with_prefix, recomputed);
}

}  // namespace
}  // namespace gemma
