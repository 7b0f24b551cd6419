// The GPU sampler against the CPU sampler (engine/sampler.h). Everywhere: the host batch's
// penalty edits reproduce the CPU penalty step (greedy tokens equal under heavy penalties) and
// its uniforms are the CPU's. With a GPU: one batch mixing greedy, token-order, top-k, top-p,
// min-p, penalties and suppression rows draws exactly the CPU's tokens for the same seeds.
#include "engine/cuda/sampling.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/sampling_batch.h"
#include "engine/sampler.h"
#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

constexpr int kVocab = 262144;

std::vector<float> RandomLogits(int rows, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> logits(static_cast<size_t>(rows) * kVocab);
  for (float& l : logits) l = dist(rng);
  return logits;
}

struct Case {
  SamplingParams params;
  PenaltyState penalties;
  uint64_t index;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  std::mt19937_64 rng(3);
  const PenaltyState seen({5, 17, 17, 123456});
  for (float temperature : {0.f, 0.7f, 1.3f}) {
    for (int top_k : {0, 1, 40}) {
      for (float top_p : {1.f, 0.9f, 0.3f}) {
        for (float min_p : {0.f, 0.05f}) {
          Case c;
          c.params.temperature = temperature;
          c.params.top_k = top_k;
          c.params.top_p = top_p;
          c.params.min_p = min_p;
          c.params.seed = rng();
          c.index = rng() % 1000;
          if (cases.size() % 3 == 0) {
            c.params.repetition_penalty = 1.3f;
            c.params.presence_penalty = 0.5f;
            c.params.frequency_penalty = 0.25f;
            c.penalties = seen;
            c.penalties.AddOutput(99);
            c.penalties.AddOutput(99);
            c.penalties.AddOutput(17);
          }
          if (cases.size() % 4 == 1) c.params.suppress_tokens = {0, 1, 2, 106};
          cases.push_back(std::move(c));
        }
      }
    }
  }
  return cases;
}

std::vector<SamplingRequest> Requests(const std::vector<Case>& cases) {
  std::vector<SamplingRequest> requests;
  for (const Case& c : cases) requests.push_back({&c.params, &c.penalties, c.index});
  return requests;
}

TEST(SamplingBatchTest, EditsAndUniformsAreTheCpuSamplers) {
  std::vector<Case> cases = Cases();
  for (Case& c : cases) c.params.temperature = 0.f;  // Greedy: the penalties decide.
  const std::vector<float> logits = RandomLogits(1, 7, 0.2f);
  std::vector<float> row(logits.begin(), logits.begin() + kVocab);
  // Make the penalised tokens the contenders.
  for (int32_t token : {5, 17, 99, 123456, 0, 1, 2, 106}) row[token] = 3.f + token % 7 * 0.1f;
  const SamplingBatch batch = BuildSamplingBatch(Requests(cases), kVocab);
  for (size_t r = 0; r < cases.size(); ++r) {
    std::vector<float> edited = row;
    for (size_t e = 0; e < batch.edit_row.size(); ++e) {
      if (batch.edit_row[e] != static_cast<int32_t>(r)) continue;
      float& l = edited[batch.edit_token[e]];
      l = ApplyEdit(l, batch.edit_suppress[e], batch.edit_repetition[e], batch.edit_subtract[e]);
    }
    const int32_t ours =
        static_cast<int32_t>(std::max_element(edited.begin(), edited.end()) - edited.begin());
    EXPECT_EQ(ours,
              Sample(row.data(), kVocab, cases[r].params, cases[r].penalties, cases[r].index).token)
        << "case " << r;
    EXPECT_EQ(batch.uniform[r], SeededUniform(cases[r].params.seed, cases[r].index, 0));
  }
}

TEST(CudaSamplerTest, DrawsTheCpuSamplersTokens) {
  std::string why;
  if (!HasGpu(&why)) GTEST_SKIP() << "GPU test skipped: " << why;
  const std::vector<Case> cases = Cases();
  const int rows = static_cast<int>(cases.size());
  for (float scale : {1.f, 4.f}) {  // Flat and peaked distributions.
    const std::vector<float> logits = RandomLogits(rows, 11, scale);
    DeviceBuffer device;
    ASSERT_TRUE(device.Upload(logits).ok());
    CudaSampler sampler;
    std::vector<int32_t> tokens;
    const absl::Status status = sampler.Sample(
        device.as<float>(), kVocab, BuildSamplingBatch(Requests(cases), kVocab), &tokens, nullptr);
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(static_cast<int>(tokens.size()), rows);
    for (int r = 0; r < rows; ++r) {
      const int32_t cpu = Sample(&logits[static_cast<size_t>(r) * kVocab], kVocab, cases[r].params,
                                 cases[r].penalties, cases[r].index)
                              .token;
      EXPECT_EQ(tokens[r], cpu) << "case " << r << " (T " << cases[r].params.temperature
                                << ", top_k " << cases[r].params.top_k << ", top_p "
                                << cases[r].params.top_p << ", min_p " << cases[r].params.min_p
                                << ") scale " << scale;
    }
  }
}

}  // namespace
}  // namespace gemma::cuda
