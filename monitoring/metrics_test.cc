#include "monitoring/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma::monitoring {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, ConcurrentIncrementsAreExact) {
  Registry registry;
  Counter* counter = registry.AddCounter("gemma_test_total", "help")->WithLabels({});
  Histogram* histogram =
      registry.AddHistogram("gemma_test_seconds", "help", {}, {1, 2})->WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        counter->Increment();
        histogram->Observe(1.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter->value(), 160000.0);
  EXPECT_EQ(histogram->count(), 160000u);
  EXPECT_EQ(histogram->sum(), 240000.0);
  EXPECT_EQ(histogram->bucket_counts(), (std::vector<uint64_t>{0, 160000, 0}));
}

TEST(MetricsTest, CountersIgnoreNegativeAmountsGaugesDoNot) {
  Registry registry;
  Counter* c = registry.AddCounter("a_total", "h")->WithLabels({});
  c->Increment(2.5);
  c->Increment(-1);
  EXPECT_EQ(c->value(), 2.5);
  Gauge* g = registry.AddGauge("g", "h")->WithLabels({});
  g->Set(3);
  g->Add(-5);
  EXPECT_EQ(g->value(), -2);
}

TEST(MetricsTest, HistogramBucketsAreUpperInclusive) {
  std::vector<double> bounds = {0.1, 1};
  Histogram h(&bounds);
  for (double v : {0.1, 0.10001, 1.0, 5.0, -3.0}) h.Observe(v);
  EXPECT_EQ(h.bucket_counts(), (std::vector<uint64_t>{2, 2, 1}));
}

TEST(MetricsTest, ExpositionFormat) {
  Registry registry;
  auto* requests = registry.AddCounter("gemma_requests_total", "Requests by kind.", {"kind"});
  requests->WithLabels({"image"})->Increment(3);
  requests->WithLabels({"text"})->Increment(1234567);
  registry.AddGauge("vllm:num_requests_waiting", "Waiting requests.", {"model_name"})
      ->WithLabels({"gemma \"4\"\n12B\\x"})
      ->Set(0.25);
  auto* ttft = registry.AddHistogram("gemma_ttft_seconds", "TTFT.", {}, {0.1, 1});
  ttft->WithLabels({})->Observe(0.05);
  ttft->WithLabels({})->Observe(0.5);
  EXPECT_EQ(registry.Exposition(),
            "# HELP gemma_requests_total Requests by kind.\n"
            "# TYPE gemma_requests_total counter\n"
            "gemma_requests_total{kind=\"image\"} 3\n"
            "gemma_requests_total{kind=\"text\"} 1234567\n"
            "# HELP vllm:num_requests_waiting Waiting requests.\n"
            "# TYPE vllm:num_requests_waiting gauge\n"
            "vllm:num_requests_waiting{model_name=\"gemma \\\"4\\\"\\n12B\\\\x\"} 0.25\n"
            "# HELP gemma_ttft_seconds TTFT.\n"
            "# TYPE gemma_ttft_seconds histogram\n"
            "gemma_ttft_seconds_bucket{le=\"0.1\"} 1\n"
            "gemma_ttft_seconds_bucket{le=\"1\"} 2\n"
            "gemma_ttft_seconds_bucket{le=\"+Inf\"} 2\n"
            "gemma_ttft_seconds_sum 0.55\n"
            "gemma_ttft_seconds_count 2\n");
}

TEST(MetricsTest, ValuesRoundTrip) {
  Registry registry;
  registry.AddGauge("x", "h")->WithLabels({})->Set(0.1 + 0.2);
  EXPECT_THAT(registry.Exposition(), HasSubstr("x 0.30000000000000004\n"));
}

TEST(MetricsDeathTest, MisuseIsABug) {
  Registry registry;
  EXPECT_DEATH(registry.AddCounter("requests", "h"), "must end in _total");
  EXPECT_DEATH(registry.AddGauge("bad-name", "h"), "invalid metric name");
  registry.AddGauge("dup", "h");
  EXPECT_DEATH(registry.AddGauge("dup", "h"), "registered twice");
  auto* family = registry.AddGauge("labelled", "h", {"a", "b"});
  EXPECT_DEATH(family->WithLabels({"only-one"}), "1 label values for 2 labels");
}

}  // namespace
}  // namespace gemma::monitoring
