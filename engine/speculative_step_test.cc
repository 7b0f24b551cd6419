// Speculative decoding end to end on a generated target + drafter pair: greedy output with MTP
// equals greedy output without it (random drafter, a perfect one, one that is right half the
// time; draft lengths 1..5), and with sampling the next-token distribution is unchanged.
#include "engine/speculative_step.h"

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/tools/test_checkpoint.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

constexpr int kBlock = 16;

SamplingParams GreedySampling() {
  SamplingParams params;
  params.temperature = 0.f;
  return params;
}

// Proposes a known continuation (optionally corrupting every other draft): a drafter with a
// chosen acceptance rate.
class ScriptedDrafter : public Drafter {
 public:
  ScriptedDrafter(std::vector<int32_t> script, int prompt_length, bool corrupt_odd)
      : script_(std::move(script)), prompt_length_(prompt_length), corrupt_odd_(corrupt_odd) {}
  absl::Status Draft(const Gemma4Model&, const KvCache&, const BlockTables&, int32_t,
                     int position, absl::Span<const float>, int count,
                     std::vector<int32_t>* drafts) const override {
    drafts->clear();
    for (int i = 0; i < count; ++i) {
      // Output index of the token at position + 1 + i.
      const size_t index = position + 1 + i - prompt_length_;
      int32_t token = index < script_.size() ? script_[index] : 5;
      if (corrupt_odd_ && i % 2 == 1) token = (token + 1) % 262144;
      drafts->push_back(token);
    }
    return absl::OkStatus();
  }

 private:
  std::vector<int32_t> script_;
  int prompt_length_;
  bool corrupt_odd_;
};

class SpeculativeStepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCheckpointOptions options;
    options.num_layers = 6;
    options.seed = 31;
    options.hf_dir = std::string(getenv("TEST_TMPDIR")) + "/target";
    options.drafter_dir = std::string(getenv("TEST_TMPDIR")) + "/drafter";
    ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    auto target = Gemma4Model::Load(options.hf_dir);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = target->release();
    auto drafter = Gemma4Drafter::Load(options.drafter_dir, *target_);
    ASSERT_TRUE(drafter.ok()) << drafter.status();
    drafter_ = drafter->release();
  }
  static void TearDownTestSuite() {
    delete drafter_;
    delete target_;
  }

  static std::vector<int32_t> Prompt(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> tokens = {2};
    for (int i = 0; i < 20; ++i) tokens.push_back(3 + rng() % 262000);
    return tokens;
  }

  static int32_t Argmax(const float* logits) {
    return static_cast<int32_t>(std::max_element(logits, logits + 262144) - logits);
  }

  // Plain greedy decoding: the reference.
  std::vector<int32_t> Greedy(const std::vector<int32_t>& prompt, int count) {
    KvCache cache(target_->config(), {kBlock, 8, 8});
    BlockTables tables = ConsecutiveBlockTables(128, kBlock);
    std::vector<float> logits;
    EXPECT_TRUE(target_->Forward({{prompt, 0, &tables, false}}, cache, &logits).ok());
    std::vector<int32_t> out;
    while (static_cast<int>(out.size()) < count) {
      out.push_back(Argmax(logits.data()));
      const int32_t token = out.back();
      const int position = static_cast<int>(prompt.size() + out.size()) - 1;
      EXPECT_TRUE(target_->Forward({{absl::MakeConstSpan(&token, 1), position, &tables, false}},
                                   cache, &logits)
                      .ok());
    }
    return out;
  }

  // Speculative decoding with `draft_length` drafts per step; counts accepted drafts.
  std::vector<int32_t> Speculative(const std::vector<int32_t>& prompt, int count,
                                   const Drafter& drafter, int draft_length, int* accepted,
                                   int* steps, SamplingParams sampling = GreedySampling()) {
    KvCache cache(target_->config(), {kBlock, 8, 8});
    BlockTables tables = ConsecutiveBlockTables(128, kBlock);
    std::vector<float> logits, hidden;
    EXPECT_TRUE(target_->Forward({{prompt, 0, &tables, false}}, cache, &logits, {}, &hidden).ok());
    PenaltyState penalties(prompt);
    std::vector<int32_t> out;
    if (sampling.temperature == 0.f) {
      out.push_back(Argmax(logits.data()));
    } else {
      out.push_back(Sample(logits.data(), 262144, sampling, penalties, 0).token);
    }
    penalties.AddOutput(out.back());
    *accepted = 0;
    *steps = 0;
    while (static_cast<int>(out.size()) < count) {
      SpeculativeSequence seq;
      seq.blocks = &tables;
      seq.token = out.back();
      seq.position = static_cast<int>(prompt.size() + out.size()) - 1;
      seq.hidden = hidden;
      seq.num_draft_tokens = draft_length;
      seq.sampling = sampling;
      seq.penalties = &penalties;
      seq.output_index = out.size();
      std::vector<SpeculativeOutcome> outcomes;
      absl::Status status = SpeculativeStep(*target_, &drafter, cache, {seq}, &outcomes);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      *accepted += outcomes[0].acceptance.num_accepted;
      ++*steps;
      for (int32_t token : outcomes[0].acceptance.tokens) {
        out.push_back(token);
        penalties.AddOutput(token);
      }
      hidden = outcomes[0].hidden;
    }
    out.resize(count);
    return out;
  }

  static Gemma4Model* target_;
  static Gemma4Drafter* drafter_;
};

Gemma4Model* SpeculativeStepTest::target_ = nullptr;
Gemma4Drafter* SpeculativeStepTest::drafter_ = nullptr;

TEST_F(SpeculativeStepTest, GreedyWithTheMtpDrafterEqualsGreedyWithout) {
  for (uint64_t p = 0; p < 2; ++p) {
    const std::vector<int32_t> prompt = Prompt(p);
    const std::vector<int32_t> reference = Greedy(prompt, 24);
    for (int k : {1, 3, 5}) {
      int accepted = 0, steps = 0;
      EXPECT_EQ(Speculative(prompt, 24, *drafter_, k, &accepted, &steps), reference)
          << "prompt " << p << ", k " << k;
    }
  }
}

TEST_F(SpeculativeStepTest, PerfectAndHalfRightDraftsStayLosslessAndSaveSteps) {
  const std::vector<int32_t> prompt = Prompt(7);
  const std::vector<int32_t> reference = Greedy(prompt, 30);
  ScriptedDrafter perfect(reference, static_cast<int>(prompt.size()), false);
  ScriptedDrafter half(reference, static_cast<int>(prompt.size()), true);
  for (int k : {1, 2, 4}) {
    int accepted = 0, steps = 0;
    EXPECT_EQ(Speculative(prompt, 30, perfect, k, &accepted, &steps), reference) << k;
    EXPECT_EQ(accepted, steps * k) << "a perfect drafter has every draft accepted";
    EXPECT_LE(steps, (29 + k) / (k + 1));
    EXPECT_EQ(Speculative(prompt, 30, half, k, &accepted, &steps), reference) << k;
    if (k > 1) {
      EXPECT_EQ(accepted, steps) << "exactly the first draft of each step is right";
    }
  }
}

// Sampling: the first token generated by a speculative step (k = 2, the real drafter) follows the
// target's distribution at that context. 500 draws grouped into the top 5 tokens and the rest
// (buckets expecting fewer than 5 draws are skipped); at most 5 degrees of freedom, 0.999
// quantile 20.5.
TEST_F(SpeculativeStepTest, SampledTokensKeepTheTargetDistribution) {
  const std::vector<int32_t> prompt = Prompt(9);
  SamplingParams sampling;
  sampling.temperature = 1.f;
  sampling.top_k = 50;
  // The target's distribution for the token after prompt + first.
  KvCache cache(target_->config(), {kBlock, 8, 8});
  BlockTables tables = ConsecutiveBlockTables(64, kBlock);
  std::vector<float> logits, hidden;
  ASSERT_TRUE(target_->Forward({{prompt, 0, &tables, false}}, cache, &logits, {}, &hidden).ok());
  const int32_t first = Argmax(logits.data());
  PenaltyState penalties(prompt);
  penalties.AddOutput(first);
  std::vector<int32_t> extended = prompt;
  extended.push_back(first);
  KvCache cache2(target_->config(), {kBlock, 8, 8});
  std::vector<float> next_logits;
  ASSERT_TRUE(target_->Forward({{extended, 0, &tables, false}}, cache2, &next_logits).ok());
  const std::vector<TokenProbability> p =
      ProcessedDistribution(next_logits.data(), 262144, sampling, penalties);
  std::map<int32_t, int> bucket_of;
  for (int i = 0; i < 5 && i < static_cast<int>(p.size()); ++i) bucket_of[p[i].token] = i;
  std::vector<double> expected(6, 0.0);
  for (const auto& e : p) expected[bucket_of.count(e.token) ? bucket_of[e.token] : 5] += e.probability;

  std::vector<int> counts(6, 0);
  const int n = 500;
  for (int i = 0; i < n; ++i) {
    SpeculativeSequence seq;
    seq.blocks = &tables;
    seq.token = first;
    seq.position = static_cast<int>(prompt.size());
    seq.hidden = hidden;
    seq.num_draft_tokens = 2;
    seq.sampling = sampling;
    seq.sampling.seed = 1000 + i;
    seq.penalties = &penalties;
    seq.output_index = 1;
    std::vector<SpeculativeOutcome> outcomes;
    ASSERT_TRUE(SpeculativeStep(*target_, drafter_, cache, {seq}, &outcomes).ok());
    const int32_t token = outcomes[0].acceptance.tokens[0];
    ++counts[bucket_of.count(token) ? bucket_of[token] : 5];
  }
  double chi2 = 0;
  for (int b = 0; b < 6; ++b) {
    if (expected[b] * n < 5) continue;  // Too rare to test.
    chi2 += (counts[b] - expected[b] * n) * (counts[b] - expected[b] * n) / (expected[b] * n);
  }
  EXPECT_LT(chi2, 20.5);
}

TEST_F(SpeculativeStepTest, DrafterMustFitItsTarget) {
  TestCheckpointOptions options;
  options.num_layers = 6;
  options.hidden_size = 96;  // A different backbone width.
  options.hf_dir = std::string(getenv("TEST_TMPDIR")) + "/other_target";
  options.drafter_dir = std::string(getenv("TEST_TMPDIR")) + "/other_drafter";
  ASSERT_TRUE(WriteTestCheckpoint(options).ok());
  auto wrong = Gemma4Drafter::Load(options.drafter_dir, *target_);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("backbone_hidden_size 96"), std::string::npos)
      << wrong.status();
}

}  // namespace
}  // namespace gemma
