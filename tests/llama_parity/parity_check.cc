// Compares our engine with llama.cpp's output (written by llama_reference.mjs) on one GGUF:
// the full next-token distribution at every prompt position, and a greedy continuation.
//   parity_check --model=M.gguf --prompts=P.json --reference=DIR --generate=N --gelu=tanh|llamacpp
//                --max_abs_diff=X
// Prints the statistics; exits non-zero when a bound is broken or greedy tokens differ.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/model/gemma4.h"
#include "tests/llama_parity/distribution_diff.h"

ABSL_FLAG(std::string, model, "", "GGUF file.");
ABSL_FLAG(std::string, prompts, "", "JSON list of token-id lists.");
ABSL_FLAG(std::string, reference, "", "Directory with probs.bin and greedy.json.");
ABSL_FLAG(int, generate, 0, "Greedy tokens to compare.");
ABSL_FLAG(std::string, gelu, "tanh", "tanh (exact) or llamacpp (emulate llama.cpp's f16 table).");
ABSL_FLAG(double, max_abs_diff, 1e-4, "Bound on |p_ours - p_llama| over every entry.");
ABSL_FLAG(bool, require_greedy_match, true, "Fail when greedy continuations differ.");
ABSL_FLAG(double, max_mean_kl, 1e-5, "Bound on the mean KL(p_llama || p_ours) per position.");

namespace {

using gemma::BlockTables;
using gemma::ForwardChunk;

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto model = gemma::Gemma4Model::Load(absl::GetFlag(FLAGS_model));
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    return 2;
  }
  gemma::ForwardOptions options;
  options.gelu = absl::GetFlag(FLAGS_gelu) == "llamacpp" ? gemma::cpu::Gelu::kLlamaCppF16
                                                         : gemma::cpu::Gelu::kTanh;
  const int vocab = (*model)->config().vocab_size;
  std::ifstream prompts_in(absl::GetFlag(FLAGS_prompts));
  const auto prompts = nlohmann::json::parse(prompts_in).get<std::vector<std::vector<int32_t>>>();
  std::ifstream greedy_in(absl::GetFlag(FLAGS_reference) + "/greedy.json");
  const auto greedy = nlohmann::json::parse(greedy_in).get<std::vector<std::vector<int32_t>>>();
  std::ifstream probs(absl::GetFlag(FLAGS_reference) + "/probs.bin", std::ios::binary);
  const int generate = absl::GetFlag(FLAGS_generate);

  double worst = 0, kl_sum = 0;
  int rows = 0, top1_agree = 0, greedy_mismatches = 0;
  std::vector<float> reference(vocab);
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    const std::vector<int32_t>& prompt = prompts[pi];
    const int capacity = static_cast<int>(prompt.size()) + generate + 1;
    gemma::KvCache cache((*model)->config(), {16, (capacity + 15) / 16, (capacity + 15) / 16});
    BlockTables tables = gemma::ConsecutiveBlockTables(capacity, 16);
    std::vector<float> logits;
    ForwardChunk chunk{prompt, 0, &tables, /*all_logits=*/true};
    absl::Status status = (*model)->Forward({chunk}, cache, &logits, options);
    if (!status.ok()) {
      std::cerr << status << "\n";
      return 2;
    }
    double prompt_worst = 0;
    for (size_t i = 0; i < prompt.size(); ++i, ++rows) {
      probs.read(reinterpret_cast<char*>(reference.data()), vocab * sizeof(float));
      if (!probs) {
        std::cerr << "probs.bin is short\n";
        return 2;
      }
      const gemma::parity::DistributionDiff diff =
          gemma::parity::Compare(gemma::parity::Probabilities(&logits[i * vocab], vocab),
                                 std::vector<double>(reference.begin(), reference.end()));
      prompt_worst = std::max(prompt_worst, diff.max_abs);
      kl_sum += diff.kl;
      top1_agree += diff.same_top;
    }
    worst = std::max(worst, prompt_worst);

    // Greedy continuation from the prompt.
    std::vector<int32_t> generated;
    int next = static_cast<int>(std::max_element(logits.end() - vocab, logits.end()) -
                                (logits.end() - vocab));
    int position = static_cast<int>(prompt.size());
    for (int g = 0; g < generate; ++g) {
      generated.push_back(next);
      if (g + 1 == generate) break;
      const int32_t token = next;
      ForwardChunk step{absl::MakeConstSpan(&token, 1), position++, &tables, false};
      status = (*model)->Forward({step}, cache, &logits, options);
      if (!status.ok()) {
        std::cerr << status << "\n";
        return 2;
      }
      next = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const bool same = pi < greedy.size() && generated == greedy[pi];
    greedy_mismatches += !same;
    std::printf("prompt %zu: %zu positions, max |dp| %.3g, greedy %d tokens %s\n", pi,
                prompt.size(), prompt_worst, generate, same ? "identical" : "DIFFER");
    if (!same && pi < greedy.size()) {
      for (size_t g = 0; g < generated.size() && g < greedy[pi].size(); ++g) {
        if (generated[g] != greedy[pi][g]) {
          std::printf("  first difference at token %zu: ours %d, llama.cpp %d\n", g, generated[g],
                      greedy[pi][g]);
          break;
        }
      }
    }
  }
  const double bound = absl::GetFlag(FLAGS_max_abs_diff);
  const double kl_bound = absl::GetFlag(FLAGS_max_mean_kl);
  std::printf(
      "gelu=%s: %d rows, max |p_ours - p_llama| = %.3g (bound %.3g), mean KL %.3g, "
      "(bound %.3g), top-1 agreement %d/%d, greedy mismatches %d\n",
      absl::GetFlag(FLAGS_gelu).c_str(), rows, worst, bound, kl_sum / rows, kl_bound, top1_agree,
      rows, greedy_mismatches);
  const bool greedy_ok = greedy_mismatches == 0 || !absl::GetFlag(FLAGS_require_greedy_match);
  return worst <= bound && kl_sum / rows <= kl_bound && greedy_ok && top1_agree == rows ? 0 : 1;
}
