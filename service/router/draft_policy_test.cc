#include "service/router/draft_policy.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace gemma {
namespace {

DraftPolicyOptions Options() {
  DraftPolicyOptions options;
  options.max_draft_tokens = 6;
  options.draft_cost = 0.05;
  options.saturation_tokens = 256;
  return options;
}

// Feeds `steps` speculative steps of k drafts, each draft accepted with probability `rate`
// (seeded), stopping at the first rejection as verification does.
void Feed(DraftPolicy& policy, AcceptanceStats* stats, double rate, int k, int steps) {
  std::mt19937 rng(7);
  std::bernoulli_distribution accept(rate);
  for (int s = 0; s < steps; ++s) {
    int accepted = 0;
    while (accepted < k && accept(rng)) ++accepted;
    policy.Record(stats, k, accepted);
  }
}

TEST(DraftPolicyTest, GainFollowsTheGeometricModel) {
  DraftPolicy policy(Options());
  // k = 3 at a = 0.5 in a batch of 1: E = 1 + .5 + .25 + .125; cost = 1 + 3 * .05 + 3 / 256.
  EXPECT_NEAR(policy.Gain(3, 0.5, 1), 1.875 / (1.15 + 3.0 / 256), 1e-12);
  EXPECT_DOUBLE_EQ(policy.Gain(0, 0.9, 64), 1.0);
  EXPECT_NEAR(policy.Gain(2, 1.0, 1), 3.0 / (1.1 + 2.0 / 256), 1e-12);  // a = 1 is finite.
}

TEST(DraftPolicyTest, HighAcceptanceDraftsDeepAndLowAcceptanceNotAtAll) {
  DraftPolicy policy(Options());
  AcceptanceStats good, bad;
  Feed(policy, &good, 0.9, 6, 200);
  EXPECT_EQ(policy.Choose(&good, 6, 1), 6);
  EXPECT_EQ(policy.Choose(&good, 3, 1), 3);  // The cap wins.
  EXPECT_EQ(policy.Choose(&good, 0, 1), 0);
  Feed(policy, &bad, 0.02, 2, 200);
  EXPECT_EQ(policy.Choose(&bad, 6, 1), 0);
  EXPECT_NEAR(good.Rate(0.6, 4), 0.9, 0.02);
}

TEST(DraftPolicyTest, LargeBatchesStopSpeculating) {
  DraftPolicy policy(Options());
  AcceptanceStats stats;
  Feed(policy, &stats, 0.5, 4, 100);
  const int alone = policy.Choose(&stats, 6, 1);
  const int crowded = policy.Choose(&stats, 6, 256);
  EXPECT_GT(alone, 0);
  EXPECT_LT(crowded, alone);
  AcceptanceStats fresh;
  EXPECT_EQ(policy.Choose(&fresh, 6, 4096), 0);  // Compute-bound: drafts cost full price.
}

TEST(DraftPolicyTest, NoDrafterNeverDrafts) {
  DraftPolicyOptions options = Options();
  options.max_draft_tokens = 0;
  DraftPolicy policy(options);
  AcceptanceStats stats;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(policy.Choose(&stats, 6, 1), 0);
}

TEST(DraftPolicyTest, ASequenceHeldAtZeroProbesAndRecovers) {
  DraftPolicyOptions options = Options();
  options.probe_interval = 8;
  DraftPolicy policy(options);
  AcceptanceStats stats;
  Feed(policy, &stats, 0.0, 1, 50);
  // Held at 0, it probes with one draft every 8th step.
  std::vector<int> chosen;
  for (int step = 0; step < 16; ++step) chosen.push_back(policy.Choose(&stats, 6, 1));
  std::vector<int> expected(16, 0);
  expected[7] = expected[15] = 1;
  EXPECT_EQ(chosen, expected);
  // The text turned predictable: accepted probes raise the estimate until it drafts deeper
  // without probing.
  int deepest = 0;
  for (int step = 0; step < 200 && deepest < 2; ++step) {
    const int k = policy.Choose(&stats, 6, 1);
    if (k > 0) policy.Record(&stats, k, k);
    deepest = std::max(deepest, k);
  }
  EXPECT_GE(deepest, 2);
}

TEST(DraftPolicyTest, CountsPerPositionAndGlobally) {
  DraftPolicy policy(Options());
  AcceptanceStats a, b;
  policy.Record(&a, 3, 2);
  policy.Record(&b, 4, 4);
  policy.Record(&b, 2, 0);
  EXPECT_EQ(policy.global().steps, 3);
  EXPECT_EQ(policy.global().drafted, 9);
  EXPECT_EQ(policy.global().accepted, 6);
  EXPECT_EQ(policy.global().rejections, 2);
  EXPECT_EQ(policy.accepted_per_position(), (std::vector<int64_t>{2, 2, 1, 1}));
  EXPECT_EQ(b.drafted, 6);
  EXPECT_EQ(b.accepted, 4);
}

}  // namespace
}  // namespace gemma
