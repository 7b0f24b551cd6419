// NCCL collectives: one rank per visible GPU (threads). Skips, saying why, without a GPU; with
// one GPU the group has one rank (NCCL refuses two ranks on one device).
#include "parallel/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <grpcpp/grpcpp.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parallel/rendezvous.h"

namespace gemma::parallel {
namespace {

TEST(NcclCommunicatorTest, CollectivesOnEveryVisibleGpu) {
  std::string why;
  const int devices = CudaDeviceCount(&why);
  if (devices == 0) GTEST_SKIP() << "no GPU here (" << why << "): NCCL builds but cannot run";
  const int world = std::min(devices, 4);
  RendezvousService store;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&store);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.emplace_back([&, r] {
      NcclOptions options;
      options.rank = r;
      options.world_size = world;
      options.device = r;
      options.store_address = "127.0.0.1:" + std::to_string(port);
      options.timeout = std::chrono::seconds(60);
      auto comm = NcclCommunicator::Connect(options);
      ASSERT_TRUE(comm.ok()) << comm.status();
      std::vector<float> data(1000, r + 1.f);
      ASSERT_TRUE((*comm)->AllReduceSum(data.data(), data.size()).ok());
      EXPECT_THAT(data, ::testing::Each(world * (world + 1) / 2.f));
      std::vector<float> mine = {float(r), float(10 * r)}, all(2 * world);
      ASSERT_TRUE((*comm)->AllGather(mine.data(), 2, all.data()).ok());
      for (int k = 0; k < world; ++k) {
        EXPECT_EQ(all[2 * k], k);
        EXPECT_EQ(all[2 * k + 1], 10 * k);
      }
      float value = r == 0 ? 7.f : -1.f;
      ASSERT_TRUE((*comm)->Broadcast(&value, 1, 0).ok());
      EXPECT_EQ(value, 7.f);
      EXPECT_TRUE((*comm)->Barrier().ok());
      // Device buffers on a caller's stream (the GPU backend's entry points).
      cudaStream_t stream = nullptr;
      ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
      float *device = nullptr, *gathered = nullptr;
      ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), 1000 * sizeof(float)), cudaSuccess);
      ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&gathered), world * 1000 * sizeof(float)),
                cudaSuccess);
      std::vector<float> values(1000, 2.f * (r + 1));
      cudaMemcpy(device, values.data(), 1000 * sizeof(float), cudaMemcpyHostToDevice);
      ASSERT_TRUE((*comm)->AllGatherOnDevice(device, 1000, gathered, stream).ok());
      ASSERT_TRUE((*comm)->AllReduceSumOnDevice(device, 1000, stream).ok());
      ASSERT_TRUE((*comm)->WaitStream(stream, "device collectives").ok());
      cudaMemcpy(values.data(), device, 1000 * sizeof(float), cudaMemcpyDeviceToHost);
      EXPECT_THAT(values, ::testing::Each(float(world * (world + 1))));
      std::vector<float> all_values(world * 1000);
      cudaMemcpy(all_values.data(), gathered, all_values.size() * sizeof(float),
                 cudaMemcpyDeviceToHost);
      for (int k = 0; k < world; ++k) EXPECT_EQ(all_values[k * 1000 + 999], 2.f * (k + 1));
      cudaFree(gathered);
      cudaFree(device);
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : ranks) t.join();
  server->Shutdown();
}

TEST(NcclCommunicatorTest, WithoutAGpuConnectFailsCleanly) {
  std::string why;
  if (CudaDeviceCount(&why) > 0) GTEST_SKIP() << "a GPU is present";
  NcclOptions options;
  auto comm = NcclCommunicator::Connect(options);
  EXPECT_EQ(comm.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(comm.status().message()), ::testing::HasSubstr("unavailable"));
}

}  // namespace
}  // namespace gemma::parallel
