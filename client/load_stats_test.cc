#include "client/load_stats.h"

#include "gtest/gtest.h"

namespace gemma {
namespace {

TEST(LoadStatsTest, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 50), 50);
  EXPECT_EQ(Percentile(v, 90), 90);
  EXPECT_EQ(Percentile(v, 99), 99);
  EXPECT_EQ(Percentile(v, 100), 100);
  EXPECT_EQ(Percentile(v, 0), 1);
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({}, 50), 0);
}

TEST(LoadStatsTest, SummaryCountsOnlySuccessesAndGroupsErrors) {
  std::vector<RequestSample> samples(4);
  samples[0] = {true, "", 0.1, 1.0, 10, 5, {0.1, 0.1}};
  samples[1] = {true, "", 0.3, 2.0, 30, 5, {0.2}};
  samples[2].error = "RESOURCE_EXHAUSTED";
  samples[3].error = "RESOURCE_EXHAUSTED";
  const LoadSummary s = Summarize(samples, 4.0);
  EXPECT_EQ(s.requests, 4);
  EXPECT_EQ(s.succeeded, 2);
  EXPECT_EQ(s.errors.at("RESOURCE_EXHAUSTED"), 2);
  EXPECT_DOUBLE_EQ(s.requests_per_s, 0.5);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_s, 10.0);
  EXPECT_DOUBLE_EQ(s.ttft_p50, 0.1);
  EXPECT_DOUBLE_EQ(s.ttft_p99, 0.3);
  EXPECT_NEAR(s.itl_mean, 0.4 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(s.e2e_p90, 2.0);
  EXPECT_NE(ToJson(s).find("\"RESOURCE_EXHAUSTED\": 2"), std::string::npos);
  EXPECT_NE(ToText(s).find("inter-token"), std::string::npos);
}

}  // namespace
}  // namespace gemma
