#include "parallel/rendezvous.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parallel/gloo_communicator.h"

namespace gemma::parallel {
namespace {

using ::testing::HasSubstr;

class RendezvousTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override { server_->Shutdown(); }

  RendezvousService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(RendezvousTest, StoreSetsGetsAndWaits) {
  GrpcStore a(address_, "g1", std::chrono::seconds(5)), b(address_, "g1", std::chrono::seconds(5));
  GrpcStore other_group(address_, "g2", std::chrono::milliseconds(200));
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    a.set("x", {'4', '2'});
  });
  b.wait({"x"});  // Blocks until the other thread sets it.
  EXPECT_EQ(b.get("x"), (std::vector<char>{'4', '2'}));
  late.join();
  try {
    other_group.get("x");  // Groups do not see each other's keys.
    ADD_FAILURE() << "a key leaked across groups";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("g2/x"));
  }
}

TEST_F(RendezvousTest, GlooRanksMeetThroughTheService) {
  const int world = 3;
  std::vector<std::thread> ranks;
  std::vector<float> results(world);
  for (int r = 0; r < world; ++r) {
    ranks.emplace_back([&, r] {
      GlooOptions options;
      options.rank = r;
      options.world_size = world;
      options.store_address = address_;
      options.group = "model-a";
      options.timeout = std::chrono::seconds(20);
      auto communicator = GlooCommunicator::Connect(options);
      ASSERT_TRUE(communicator.ok()) << communicator.status();
      float value = r + 1.f;
      ASSERT_TRUE((*communicator)->AllReduceSum(&value, 1).ok());
      results[r] = value;
    });
  }
  for (auto& t : ranks) t.join();
  EXPECT_THAT(results, ::testing::Each(6.f));
}

TEST_F(RendezvousTest, AMissingRankIsNamed) {
  GlooOptions options;
  options.rank = 0;
  options.world_size = 2;
  options.store_address = address_;
  options.group = "lonely";
  options.timeout = std::chrono::milliseconds(1500);
  auto communicator = GlooCommunicator::Connect(options);
  EXPECT_EQ(communicator.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(communicator.status().message()), HasSubstr("rank 1 did not join"));
}

}  // namespace
}  // namespace gemma::parallel
