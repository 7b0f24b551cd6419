#include "engine/speculative.h"

#include <cmath>
#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace gemma {
namespace {

const std::vector<TokenProbability> kP1 = {{0, 0.4f}, {1, 0.25f}, {2, 0.2f}, {3, 0.1f}, {4, 0.05f}};
const std::vector<TokenProbability> kP2 = {{0, 0.1f}, {2, 0.3f}, {5, 0.6f}};
const std::vector<TokenProbability> kP3 = {{1, 0.5f}, {3, 0.5f}};

double ChiSquare(const std::map<int32_t, int>& counts, const std::vector<TokenProbability>& p,
                 int n) {
  double chi2 = 0;
  for (const auto& e : p) {
    const double expected = e.probability * n;
    const auto it = counts.find(e.token);
    const double observed = it == counts.end() ? 0 : it->second;
    chi2 += (observed - expected) * (observed - expected) / expected;
  }
  for (const auto& [token, count] : counts) {
    bool known = false;
    for (const auto& e : p) known |= e.token == token;
    if (!known) return 1e9;  // A token the target gives probability 0.
  }
  return chi2;
}

TEST(SpeculativeTest, GreedyAcceptsMatchingDraftsAndCorrectsTheFirstMismatch) {
  const std::vector<std::vector<TokenProbability>> greedy = {{{7, 1.f}}, {{8, 1.f}}, {{9, 1.f}}};
  Acceptance all = AcceptDrafts({7, 8}, greedy, 1, 0);
  EXPECT_EQ(all.tokens, (std::vector<int32_t>{7, 8, 9}));
  EXPECT_EQ(all.num_accepted, 2);
  Acceptance second_wrong = AcceptDrafts({7, 5}, greedy, 1, 0);
  EXPECT_EQ(second_wrong.tokens, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(second_wrong.num_accepted, 1);
  Acceptance none = AcceptDrafts({4, 8}, greedy, 1, 0);
  EXPECT_EQ(none.tokens, (std::vector<int32_t>{7}));
  EXPECT_EQ(none.num_accepted, 0);
  Acceptance no_drafts = AcceptDrafts({}, {{{3, 1.f}}}, 1, 0);
  EXPECT_EQ(no_drafts.tokens, (std::vector<int32_t>{3}));
}

// Whatever the draft, the first emitted token is distributed as p_1: a likely draft, an unlikely
// one and one the target never picks. 20000 draws; 4 degrees of freedom, 0.999 quantile 18.5.
TEST(SpeculativeTest, FirstTokenIsDistributedAsTheTargetWhateverTheDraft) {
  for (int32_t draft : {0, 4, 9}) {
    std::map<int32_t, int> counts;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      ++counts[AcceptDrafts({draft, 5}, {kP1, kP2, kP3}, 77, 1000 + i * 3).tokens[0]];
    }
    EXPECT_LT(ChiSquare(counts, kP1, n), 18.5) << "draft " << draft;
  }
}

// The first two tokens are jointly distributed as p_1 x p_2 (this synthetic target's next
// distribution does not depend on the first token). 15 cells, 14 degrees of freedom, 0.999
// quantile 36.1. A residual computed wrongly (for example without removing the draft) fails.
TEST(SpeculativeTest, TwoTokensAreJointlyDistributedAsTheTarget) {
  const int n = 30000;
  std::map<int32_t, int> pairs;
  std::vector<TokenProbability> joint;
  for (const auto& a : kP1) {
    for (const auto& b : kP2) joint.push_back({a.token * 10 + b.token, a.probability * b.probability});
  }
  for (int i = 0; i < n; ++i) {
    // Drafts 0 then 5: the two most likely tokens. Pairs after a rejection at step 1 come from a
    // second step of plain sampling, emulated here with a fresh acceptance on p_2 alone.
    Acceptance a = AcceptDrafts({0, 5}, {kP1, kP2, kP3}, 5, uint64_t(i) * 8);
    int32_t second = a.tokens.size() >= 2
                         ? a.tokens[1]
                         : AcceptDrafts({}, {kP2}, 5, uint64_t(i) * 8 + 1).tokens[0];
    ++pairs[a.tokens[0] * 10 + second];
  }
  EXPECT_LT(ChiSquare(pairs, joint, n), 36.1);
}

TEST(SpeculativeTest, SameSeedAndIndexSameResult) {
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(AcceptDrafts({1, 2}, {kP1, kP2, kP3}, 9, i).tokens,
              AcceptDrafts({1, 2}, {kP1, kP2, kP3}, 9, i).tokens);
  }
}

}  // namespace
}  // namespace gemma
