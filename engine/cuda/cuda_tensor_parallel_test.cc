// The GPU model at tensor parallel size 2 (one GPU per rank, NCCL, ranks as threads) against
// the CPU engine at size 1 on a generated bf16 checkpoint: every rank returns the whole
// vocabulary's logits, within the single-GPU test's bf16 tolerance (0.25), for a prefill and
// KV-cached decode steps. Skips, saying why, with fewer than two GPUs.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine/cuda/cuda_model.h"
#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"
#include "parallel/nccl_communicator.h"
#include "parallel/rendezvous.h"

namespace gemma::cuda {
namespace {

constexpr int kBlock = 16;

TEST(CudaTensorParallelTest, TwoRanksMatchTheCpuEngine) {
  std::string why;
  const int devices = parallel::CudaDeviceCount(&why);
  if (devices < 2) {
    GTEST_SKIP() << "GPU test skipped: tensor parallelism needs 2 GPUs, this machine has "
                 << devices << (why.empty() ? "" : " (" + why + ")");
  }
  TestCheckpointOptions options;
  options.seed = 43;
  options.num_layers = 6;
  options.hf_dtype = DType::kBF16;
  options.hf_dir = std::string(std::getenv("TEST_TMPDIR")) + "/model";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto cpu = Gemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const int vocab = (*cpu)->config().vocab_size;
  std::vector<int32_t> prompt = {2};
  for (int i = 1; i < 30; ++i) prompt.push_back(1000 + i * 7919 % 200000);
  const std::vector<int32_t> decoded = {4242, 777};
  BlockTables tables = ConsecutiveBlockTables(48, kBlock);
  std::vector<std::vector<float>> reference;  // Prompt's last logits, then each decode's.
  {
    KvCache cache((*cpu)->config(), {kBlock, 4, 4});
    std::vector<float> logits;
    ASSERT_TRUE((*cpu)->Forward({{prompt, 0, &tables, false}}, cache, &logits).ok());
    reference.push_back(logits);
    for (size_t i = 0; i < decoded.size(); ++i) {
      ASSERT_TRUE((*cpu)
                      ->Forward({{absl::MakeConstSpan(&decoded[i], 1),
                                  static_cast<int>(prompt.size() + i), &tables, false}},
                                cache, &logits)
                      .ok());
      reference.push_back(logits);
    }
  }
  parallel::RendezvousService store;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&store);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.emplace_back([&, rank] {
      parallel::NcclOptions nccl_options;
      nccl_options.rank = rank;
      nccl_options.world_size = 2;
      nccl_options.device = rank;
      nccl_options.store_address = "127.0.0.1:" + std::to_string(port);
      nccl_options.timeout = std::chrono::seconds(60);
      auto nccl = parallel::NcclCommunicator::Connect(nccl_options);
      ASSERT_TRUE(nccl.ok()) << nccl.status();
      auto model = CudaGemma4Model::Load(options.hf_dir, nccl->get());
      ASSERT_TRUE(model.ok()) << model.status();
      EXPECT_EQ((*model)->shard_config().num_heads, (*model)->config().num_heads / 2);
      auto cache = CudaKvCache::Create((*model)->shard_config(), {kBlock, 4, 4});
      ASSERT_TRUE(cache.ok()) << cache.status();
      std::vector<std::vector<float>> got(1);
      ASSERT_TRUE((*model)->Forward({{prompt, 0, &tables, false}}, *cache, &got[0]).ok());
      for (size_t i = 0; i < decoded.size(); ++i) {
        got.emplace_back();
        ASSERT_TRUE((*model)
                        ->Forward({{absl::MakeConstSpan(&decoded[i], 1),
                                    static_cast<int>(prompt.size() + i), &tables, false}},
                                  *cache, &got.back())
                        .ok());
      }
      for (size_t step = 0; step < reference.size(); ++step) {
        ASSERT_EQ(got[step].size(), static_cast<size_t>(vocab));
        double worst = 0;
        for (int t = 0; t < vocab; ++t) {
          worst = std::max(worst, double(std::fabs(got[step][t] - reference[step][t])));
        }
        EXPECT_LE(worst, 0.25) << "rank " << rank << " step " << step;
      }
    });
  }
  for (std::thread& rank : ranks) rank.join();
  server->Shutdown();
}

}  // namespace
}  // namespace gemma::cuda
