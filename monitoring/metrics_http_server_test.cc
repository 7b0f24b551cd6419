#include "monitoring/metrics_http_server.h"

#include <httplib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma::monitoring {
namespace {

using ::testing::HasSubstr;

TEST(MetricsHttpServerTest, ServesTheLiveExposition) {
  Registry registry;
  Counter* counter = registry.AddCounter("gemma_hits_total", "Hits.")->WithLabels({});
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  counter->Increment(5);
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(response->body, HasSubstr("gemma_hits_total 5\n"));
  counter->Increment();
  EXPECT_THAT(client.Get("/metrics")->body, HasSubstr("gemma_hits_total 6\n"));
  EXPECT_EQ(client.Get("/other")->status, 404);
}

TEST(MetricsHttpServerTest, PortInUseIsUnavailable) {
  Registry registry;
  auto first = MetricsHttpServer::Start("127.0.0.1", 0, &registry);
  ASSERT_TRUE(first.ok());
  auto second = MetricsHttpServer::Start("127.0.0.1", (*first)->port(), &registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gemma::monitoring
