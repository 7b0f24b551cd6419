// The GPU backend against the CPU backend through the worker's interface (engine/backend.h):
// greedy speculative decoding on a generated pair whose drafter agrees with its echo target on
// 90 % of the vocabulary (large margins: bf16 rounding cannot flip a token) - the same tokens,
// and the drafts actually accepted. Skips without a GPU.
#include "engine/cuda/cuda_backend.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/model/gemma4_drafter.h"
#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

constexpr int kBlock = 16;

// Greedy decoding of `count` tokens through `backend`, `k` drafts per step.
std::vector<int32_t> Decode(ModelBackend& backend, const std::vector<int32_t>& prompt, int count,
                            int k, int* accepted) {
  const int vocab = backend.config().vocab_size;
  EXPECT_TRUE(backend.AllocateCache({kBlock, 8, 8}).ok());
  BlockTables tables = ConsecutiveBlockTables(128, kBlock);
  std::vector<float> logits, hidden;
  EXPECT_TRUE(backend.Forward({{prompt, 0, &tables, false}}, &logits, &hidden, nullptr).ok());
  std::vector<int32_t> out = {
      static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
  SamplingParams greedy;
  greedy.temperature = 0.f;
  PenaltyState penalties(prompt);
  while (static_cast<int>(out.size()) < count) {
    SpeculativeSequence seq;
    seq.blocks = &tables;
    seq.token = out.back();
    seq.position = static_cast<int>(prompt.size() + out.size()) - 1;
    seq.hidden = hidden;
    seq.num_draft_tokens = k;
    seq.sampling = greedy;
    seq.penalties = &penalties;
    seq.output_index = out.size();
    std::vector<SpeculativeOutcome> outcomes;
    const absl::Status status = backend.Speculate({seq}, &outcomes, nullptr);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok()) break;
    *accepted += outcomes[0].acceptance.num_accepted;
    out.insert(out.end(), outcomes[0].acceptance.tokens.begin(),
               outcomes[0].acceptance.tokens.end());
    hidden = outcomes[0].hidden;
  }
  out.resize(count);
  return out;
}

TEST(CudaBackendTest, SpeculativeDecodingMatchesTheCpuBackend) {
  std::string why;
  if (!HasGpu(&why)) GTEST_SKIP() << "GPU test skipped: " << why;
  TestCheckpointOptions options;
  options.seed = 41;
  options.num_layers = 6;
  options.echo = true;
  options.drafter_agreement = 0.9f;
  options.hf_dtype = DType::kBF16;
  options.hf_dir = std::string(std::getenv("TEST_TMPDIR")) + "/target";
  options.drafter_dir = std::string(std::getenv("TEST_TMPDIR")) + "/drafter";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto cpu_model = Gemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(cpu_model.ok()) << cpu_model.status();
  auto cpu_drafter = Gemma4Drafter::Load(options.drafter_dir, **cpu_model);
  ASSERT_TRUE(cpu_drafter.ok()) << cpu_drafter.status();
  auto gpu_model = CudaGemma4Model::Load(options.hf_dir);
  ASSERT_TRUE(gpu_model.ok()) << gpu_model.status();
  auto gpu_drafter = CudaGemma4Drafter::Load(options.drafter_dir, **gpu_model);
  ASSERT_TRUE(gpu_drafter.ok()) << gpu_drafter.status();
  CpuBackend cpu(**cpu_model, cpu_drafter->get());
  CudaBackend gpu(**gpu_model, gpu_drafter->get());
  EXPECT_EQ(gpu.weight_dtype(), "bf16");
  EXPECT_NE(gpu.device().find("cuda"), std::string::npos);
  std::vector<float> logits;
  EXPECT_EQ(gpu.Forward({}, &logits, nullptr, nullptr).code(),
            absl::StatusCode::kFailedPrecondition);  // No cache yet.
  int total_accepted = 0;
  for (const std::vector<int32_t>& prompt :
       {std::vector<int32_t>{2, 1000, 2000, 3000}, std::vector<int32_t>{2, 77, 88, 99, 111}}) {
    for (int k : {0, 3}) {
      int cpu_accepted = 0, gpu_accepted = 0;
      const std::vector<int32_t> want = Decode(cpu, prompt, 24, k, &cpu_accepted);
      const std::vector<int32_t> got = Decode(gpu, prompt, 24, k, &gpu_accepted);
      EXPECT_EQ(got, want) << "k " << k;
      total_accepted += gpu_accepted;
    }
  }
  EXPECT_GT(total_accepted, 0) << "the 90 % drafter was never accepted on the GPU";
}

}  // namespace
}  // namespace gemma::cuda
