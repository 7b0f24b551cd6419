// How far our next-token distribution is from llama.cpp's: the largest probability difference,
// KL(llama || ours), and whether the top tokens agree. Shared by the parity checks.
#ifndef GEMMA_TESTS_LLAMA_PARITY_DISTRIBUTION_DIFF_H_
#define GEMMA_TESTS_LLAMA_PARITY_DISTRIBUTION_DIFF_H_

#include <algorithm>
#include <cmath>
#include <vector>

namespace gemma::parity {

// softmax in f64.
inline std::vector<double> Probabilities(const float* logits, int vocab) {
  const float max = *std::max_element(logits, logits + vocab);
  std::vector<double> p(vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += p[i] = std::exp(double(logits[i]) - max);
  for (double& v : p) v /= sum;
  return p;
}

struct DistributionDiff {
  double max_abs = 0;  // max_t |p_ours(t) - p_llama(t)|
  double kl = 0;       // KL(p_llama || p_ours)
  bool same_top = false;
};

// `theirs` need not be normalised (llama.cpp's rows sum to ~1.0005).
inline DistributionDiff Compare(const std::vector<double>& ours,
                                const std::vector<double>& theirs) {
  double sum = 0;
  for (double v : theirs) sum += v;
  DistributionDiff diff;
  size_t our_top = 0, their_top = 0;
  for (size_t t = 0; t < ours.size(); ++t) {
    const double p = theirs[t] / sum;
    diff.max_abs = std::max(diff.max_abs, std::fabs(ours[t] - p));
    if (p > 0 && ours[t] > 0) diff.kl += p * std::log(p / ours[t]);
    if (ours[t] > ours[our_top]) our_top = t;
    if (theirs[t] > theirs[their_top]) their_top = t;
  }
  diff.same_top = our_top == their_top;
  return diff;
}

}  // namespace gemma::parity

#endif  // GEMMA_TESTS_LLAMA_PARITY_DISTRIBUTION_DIFF_H_
