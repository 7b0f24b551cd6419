// Compares our MTP drafter with llama.cpp's gemma4-assistant (written by drafter_reference) on
// one target/drafter GGUF pair: for each prompt, the target's next token t, then every draft
// step's full distribution (softmax of the drafter's logits) and its draft token. Distributions
// are compared while both drafters were fed the same tokens.
//   drafter_parity_check --model=T.gguf --drafter=D.gguf --prompts=P.json --reference=DIR
//                        --steps=N --gelu=tanh|llamacpp --max_abs_diff=X --max_mean_kl=Y
// Prints the statistics; exits non-zero when a bound is broken or a token differs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/model/gemma4.h"
#include "engine/model/gemma4_drafter.h"
#include "tests/llama_parity/distribution_diff.h"

ABSL_FLAG(std::string, model, "", "Target GGUF.");
ABSL_FLAG(std::string, drafter, "", "Drafter GGUF (arch gemma4-assistant).");
ABSL_FLAG(std::string, prompts, "", "JSON list of token-id lists.");
ABSL_FLAG(std::string, reference, "", "Directory with drafter_logits.bin and drafts.json.");
ABSL_FLAG(int, steps, 4, "Draft steps per prompt (as given to drafter_reference).");
ABSL_FLAG(std::string, gelu, "tanh", "tanh (exact) or llamacpp (emulate llama.cpp's f16 table).");
ABSL_FLAG(double, max_abs_diff, 1e-4, "Bound on |p_ours - p_llama| over every entry.");
ABSL_FLAG(double, max_mean_kl, 1e-5, "Bound on the mean KL(p_llama || p_ours) per step.");
ABSL_FLAG(bool, reference_hidden, false,
          "Feed our drafter llama.cpp's target hidden state (target_hidden.bin) instead of ours, "
          "so that the comparison isolates the drafter from the target's own differences.");
ABSL_FLAG(bool, require_token_match, true,
          "Fail when a draft token differs (else only the steps before it are compared).");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto target = gemma::Gemma4Model::Load(absl::GetFlag(FLAGS_model));
  if (!target.ok()) {
    std::cerr << target.status() << "\n";
    return 2;
  }
  auto drafter = gemma::Gemma4Drafter::Load(absl::GetFlag(FLAGS_drafter), **target);
  if (!drafter.ok()) {
    std::cerr << drafter.status() << "\n";
    return 2;
  }
  gemma::ForwardOptions options;
  options.gelu = absl::GetFlag(FLAGS_gelu) == "llamacpp" ? gemma::cpu::Gelu::kLlamaCppF16
                                                         : gemma::cpu::Gelu::kTanh;
  const int vocab = (*target)->config().vocab_size;
  const int steps = absl::GetFlag(FLAGS_steps);
  std::ifstream prompts_in(absl::GetFlag(FLAGS_prompts));
  const auto prompts = nlohmann::json::parse(prompts_in).get<std::vector<std::vector<int32_t>>>();
  std::ifstream drafts_in(absl::GetFlag(FLAGS_reference) + "/drafts.json");
  const auto reference_drafts =
      nlohmann::json::parse(drafts_in).get<std::vector<std::vector<int32_t>>>();
  std::ifstream reference_logits(absl::GetFlag(FLAGS_reference) + "/drafter_logits.bin",
                                 std::ios::binary);
  std::ifstream reference_hidden(absl::GetFlag(FLAGS_reference) + "/target_hidden.bin",
                                 std::ios::binary);
  if (reference_drafts.size() != prompts.size()) {
    std::cerr << "drafts.json has " << reference_drafts.size() << " rows for " << prompts.size()
              << " prompts\n";
    return 2;
  }

  double worst = 0, kl_sum = 0, worst_hidden = 0;
  int rows = 0, top1_agree = 0, token_mismatches = 0;  // rows: the steps compared.
  std::vector<float> reference(vocab);
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    const std::vector<int32_t>& prompt = prompts[pi];
    const int length = static_cast<int>(prompt.size());
    gemma::KvCache cache((*target)->config(), {16, (length + 16) / 16, (length + 16) / 16});
    gemma::BlockTables tables = gemma::ConsecutiveBlockTables(length + 1, 16);
    std::vector<float> logits, hidden;
    absl::Status status =
        (*target)->Forward({{prompt, 0, &tables, false}}, cache, &logits, options, &hidden);
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::vector<float> their_hidden(hidden.size());
    reference_hidden.read(reinterpret_cast<char*>(their_hidden.data()),
                          their_hidden.size() * sizeof(float));
    if (!reference_hidden) {
      std::cerr << "target_hidden.bin is short\n";
      return 2;
    }
    for (size_t e = 0; e < hidden.size(); ++e) {
      worst_hidden = std::max(worst_hidden, double(std::fabs(hidden[e] - their_hidden[e])));
    }
    if (absl::GetFlag(FLAGS_reference_hidden)) hidden = their_hidden;
    std::vector<int32_t> drafts;
    std::vector<float> step_logits;
    if (status.ok()) {
      status = (*drafter)->DraftWithLogits(**target, cache, tables, next, length, hidden, steps,
                                           options.gelu, &drafts, &step_logits);
    }
    if (!status.ok()) {
      std::cerr << status << "\n";
      return 2;
    }
    std::vector<int32_t> ours = {next};
    ours.insert(ours.end(), drafts.begin(), drafts.end());
    const std::vector<int32_t>& theirs = reference_drafts[pi];
    double prompt_worst = 0;
    for (int s = 0; s < steps; ++s) {  // Reads every step's row to stay aligned in the file.
      reference_logits.read(reinterpret_cast<char*>(reference.data()), vocab * sizeof(float));
      if (!reference_logits) {
        std::cerr << "drafter_logits.bin is short\n";
        return 2;
      }
      // Step s is fed token s (t, then the drafts): past a differing token the two drafters
      // see different inputs, and their distributions are not comparable.
      if (theirs.size() <= static_cast<size_t>(s) ||
          !std::equal(ours.begin(), ours.begin() + s + 1, theirs.begin())) {
        continue;
      }
      ++rows;
      const gemma::parity::DistributionDiff diff = gemma::parity::Compare(
          gemma::parity::Probabilities(&step_logits[static_cast<size_t>(s) * vocab], vocab),
          gemma::parity::Probabilities(reference.data(), vocab));
      prompt_worst = std::max(prompt_worst, diff.max_abs);
      kl_sum += diff.kl;
      top1_agree += diff.same_top;
    }
    worst = std::max(worst, prompt_worst);
    const bool same = ours == theirs;
    token_mismatches += !same;
    std::printf("prompt %zu: %d positions, t %d, %d drafts, max |dp| %.3g, tokens %s\n", pi, length,
                next, steps, prompt_worst, same ? "identical" : "DIFFER");
    if (!same) {
      std::printf("  ours:");
      for (int32_t t : ours) std::printf(" %d", t);
      std::printf("\n  llama.cpp:");
      for (int32_t t : theirs) std::printf(" %d", t);
      std::printf("\n");
    }
  }
  const double bound = absl::GetFlag(FLAGS_max_abs_diff);
  const double kl_bound = absl::GetFlag(FLAGS_max_mean_kl);
  std::printf(
      "drafter gelu=%s, %s target hidden (max |h_ours - h_llama| %.3g): %d draft steps "
      "compared, max |p_ours - p_llama| = %.3g (bound %.3g), mean KL %.3g (bound %.3g), "
      "top-1 agreement %d/%d, token mismatches %d\n",
      absl::GetFlag(FLAGS_gelu).c_str(),
      absl::GetFlag(FLAGS_reference_hidden) ? "llama.cpp's" : "our", worst_hidden, rows, worst,
      bound, kl_sum / rows, kl_bound, top1_agree, rows, token_mismatches);
  const bool tokens_ok = token_mismatches == 0 || !absl::GetFlag(FLAGS_require_token_match);
  return rows > 0 && worst <= bound && kl_sum / rows <= kl_bound && top1_agree == rows && tokens_ok
             ? 0
             : 1;
}
