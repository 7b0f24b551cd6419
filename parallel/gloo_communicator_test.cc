#include "parallel/gloo_communicator.h"

#include <sys/stat.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "engine/dtype.h"

namespace gemma::parallel {
namespace {

using ::testing::HasSubstr;

std::string StoreDir(const std::string& name) {
  const std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

// Runs `body(communicator)` on `world` ranks (threads), each connected through Gloo over TCP.
template <typename Body>
void RunRanks(int world, const std::string& store, Body body) {
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.emplace_back([&, r] {
      GlooOptions options;
      options.rank = r;
      options.world_size = world;
      options.store_dir = store;
      options.timeout = std::chrono::seconds(20);
      auto communicator = GlooCommunicator::Connect(options);
      ASSERT_TRUE(communicator.ok()) << communicator.status();
      body(**communicator);
    });
  }
  for (auto& t : ranks) t.join();
}

TEST(GlooCommunicatorTest, CollectivesOnFourRanks) {
  RunRanks(4, StoreDir("four"), [](Communicator& c) {
    const int r = c.rank();
    std::vector<float> data = {float(r), float(r * r), 1.f};
    ASSERT_TRUE(c.AllReduceSum(data.data(), data.size()).ok());
    EXPECT_EQ(data, (std::vector<float>{0 + 1 + 2 + 3, 0 + 1 + 4 + 9, 4}));

    std::vector<float> mine = {float(10 * r), float(10 * r + 1)}, all(8);
    ASSERT_TRUE(c.AllGather(mine.data(), 2, all.data()).ok());
    EXPECT_EQ(all, (std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31}));

    std::vector<float> value = {r == 2 ? 42.f : -1.f};
    ASSERT_TRUE(c.Broadcast(value.data(), 1, 2).ok());
    EXPECT_EQ(value[0], 42.f);
    EXPECT_TRUE(c.Barrier().ok());
    EXPECT_EQ(c.Broadcast(value.data(), 1, 7).code(), absl::StatusCode::kInvalidArgument);
  });
}

TEST(GlooCommunicatorTest, Bf16AllReduceRoundsTheF32Sum) {
  RunRanks(3, StoreDir("bf16"), [](Communicator& c) {
    // 1 + 1/256 is not representable in bf16 (8 mantissa bits): the exact f32 sum of the three
    // ranks' values is rounded once, to nearest even.
    const std::vector<float> values = {1.0f, 0.00390625f, 0.0f};
    std::vector<uint16_t> data = {F32ToBf16(values[c.rank()]), F32ToBf16(float(c.rank() + 1))};
    ASSERT_TRUE(c.AllReduceSumBf16(data.data(), data.size()).ok());
    EXPECT_EQ(Bf16ToF32(data[0]), RoundToBf16(1.00390625f));
    EXPECT_EQ(Bf16ToF32(data[1]), 6.0f);
  });
}

TEST(GlooCommunicatorTest, LargeAllReduceMatchesTheSum) {
  RunRanks(2, StoreDir("large"), [](Communicator& c) {
    std::vector<float> data(1 << 20);
    for (size_t i = 0; i < data.size(); ++i) data[i] = (c.rank() + 1) * float(i % 1000);
    ASSERT_TRUE(c.AllReduceSum(data.data(), data.size()).ok());
    for (size_t i = 0; i < data.size(); i += 4099) ASSERT_EQ(data[i], 3 * float(i % 1000));
  });
}

TEST(GlooCommunicatorTest, MissingRankIsNamedWithinTheTimeout) {
  GlooOptions options;
  options.rank = 0;
  options.world_size = 2;
  options.store_dir = StoreDir("missing");
  options.timeout = std::chrono::milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  auto communicator = GlooCommunicator::Connect(options);
  EXPECT_EQ(communicator.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(communicator.status().message(), HasSubstr("rank 1 did not join"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(GlooCommunicatorTest, RejectsBadRanks) {
  GlooOptions options;
  options.rank = 3;
  options.world_size = 2;
  EXPECT_EQ(GlooCommunicator::Connect(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gemma::parallel
