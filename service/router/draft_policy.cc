#include "service/router/draft_policy.h"

#include <algorithm>
#include <cmath>

namespace gemma {

void AcceptanceStats::Add(int num_drafted, int num_accepted) {
  if (num_drafted <= 0) return;
  ++steps;
  drafted += num_drafted;
  accepted += num_accepted;
  rejections += num_accepted < num_drafted;
  since_draft = 0;
}

double AcceptanceStats::Rate(double prior, double weight) const {
  return (static_cast<double>(accepted) + prior * weight) /
         (static_cast<double>(accepted + rejections) + weight);
}

DraftPolicy::DraftPolicy(DraftPolicyOptions options) : options_(options) {}

double DraftPolicy::Gain(int k, double rate, int decode_batch) const {
  // E(k) = 1 + a + ... + a^k, summed directly (stable at a = 1).
  double expected = 0, term = 1;
  for (int i = 0; i <= k; ++i, term *= rate) expected += term;
  const double cost = 1 + k * options_.draft_cost +
                      k * static_cast<double>(decode_batch) /
                          std::max(1, options_.saturation_tokens);
  return expected / cost;
}

int DraftPolicy::Choose(AcceptanceStats* stats, int cap, int decode_batch) const {
  cap = std::min(cap, options_.max_draft_tokens);
  if (cap <= 0) return 0;
  const double prior = global_.Rate(options_.prior_rate, options_.prior_weight);
  const double rate = stats->Rate(prior, options_.prior_weight);
  int best = 0;
  double best_gain = options_.min_gain;
  for (int k = 1; k <= cap; ++k) {
    const double gain = Gain(k, rate, decode_batch);
    if (gain > best_gain) best = k, best_gain = gain;
  }
  if (best == 0 && ++stats->since_draft >= options_.probe_interval) {
    best = 1;
    stats->since_draft = 0;
  }
  return best;
}

void DraftPolicy::Record(AcceptanceStats* stats, int num_drafted, int num_accepted) {
  if (num_drafted <= 0) return;
  stats->Add(num_drafted, num_accepted);
  global_.Add(num_drafted, num_accepted);
  if (static_cast<int>(accepted_per_position_.size()) < num_drafted) {
    accepted_per_position_.resize(num_drafted, 0);
  }
  for (int i = 0; i < num_accepted; ++i) ++accepted_per_position_[i];
}

}  // namespace gemma
