// speculative_bench: mean accepted length and wall-clock speedup of MTP speculative decoding over
// plain greedy decoding on CPU test models whose acceptance rate is set by construction (an echo
// target and drafters that agree with it on 0 %, 50 % and 90 % of the vocabulary), draft lengths
// 1..6, in one run.
//   speculative_bench [--tokens=32] [--prompts=6] [--threads=2]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "engine/model/gemma4_drafter.h"
#include "engine/speculative_step.h"
#include "engine/tools/test_checkpoint.h"

ABSL_FLAG(int, tokens, 32, "Tokens generated per prompt.");
ABSL_FLAG(int, prompts, 6, "Prompts per configuration.");
ABSL_FLAG(int, threads, 2, "CPU threads.");

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBlock = 16;

struct Run {
  double seconds = 0;
  int tokens = 0, accepted = 0, steps = 0;
};

// Greedy generation of `count` tokens; k = 0 is plain decoding.
Run Generate(const gemma::Gemma4Model& target, const gemma::Drafter* drafter,
             const std::vector<int32_t>& prompt, int count, int k) {
  gemma::KvCache cache(target.config(), {kBlock, 8, 8});
  gemma::BlockTables tables = gemma::ConsecutiveBlockTables(128, kBlock);
  std::vector<float> logits, hidden;
  auto start = Clock::now();
  (void)target.Forward({{prompt, 0, &tables, false}}, cache, &logits, {}, &hidden);
  std::vector<int32_t> out = {
      static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
  gemma::PenaltyState penalties(prompt);
  gemma::SamplingParams greedy;
  greedy.temperature = 0.f;
  Run run;
  while (static_cast<int>(out.size()) < count) {
    gemma::SpeculativeSequence seq;
    seq.blocks = &tables;
    seq.token = out.back();
    seq.position = static_cast<int>(prompt.size() + out.size()) - 1;
    seq.hidden = hidden;
    seq.num_draft_tokens = k;
    seq.sampling = greedy;
    seq.penalties = &penalties;
    seq.output_index = out.size();
    std::vector<gemma::SpeculativeOutcome> outcomes;
    if (!gemma::SpeculativeStep(target, drafter, cache, {seq}, &outcomes).ok()) break;
    run.accepted += outcomes[0].acceptance.num_accepted;
    ++run.steps;
    out.insert(out.end(), outcomes[0].acceptance.tokens.begin(),
               outcomes[0].acceptance.tokens.end());
    hidden = outcomes[0].hidden;
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.tokens = count;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/speculative_bench");
  std::string command = "mkdir -p " + dir;
  if (std::system(command.c_str()) != 0) return 1;
  std::printf("%-10s %3s %12s %12s %12s %9s\n", "agreement", "k", "mean accept", "plain tok/s",
              "spec tok/s", "speedup");
  for (float agreement : {0.0f, 0.5f, 0.9f}) {
    gemma::TestCheckpointOptions options;
    options.hidden_size = 256;
    options.intermediate_size = 1024;
    options.num_layers = 24;
    options.echo = true;
    options.drafter_agreement = agreement;
    options.seed = 3;
    options.hf_dir = dir + "/target";
    options.drafter_dir = absl::StrCat(dir, "/drafter_", agreement);
    if (absl::Status s = gemma::WriteTestCheckpoint(options); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    auto target = gemma::Gemma4Model::Load(options.hf_dir);
    if (!target.ok()) return 1;
    auto drafter = gemma::Gemma4Drafter::Load(options.drafter_dir, **target);
    if (!drafter.ok()) {
      std::fprintf(stderr, "%s\n", drafter.status().ToString().c_str());
      return 1;
    }
    std::mt19937_64 rng(11);
    std::vector<std::vector<int32_t>> prompts;
    for (int p = 0; p < absl::GetFlag(FLAGS_prompts); ++p) {
      std::vector<int32_t> prompt = {2};
      for (int i = 0; i < 15; ++i) prompt.push_back(3 + rng() % 262000);
      prompts.push_back(prompt);
    }
    const int count = absl::GetFlag(FLAGS_tokens);
    double plain_seconds = 0;
    int plain_tokens = 0;
    for (const auto& prompt : prompts) {
      Run r = Generate(**target, nullptr, prompt, count, 0);
      plain_seconds += r.seconds;
      plain_tokens += r.tokens;
    }
    for (int k = 1; k <= 6; ++k) {
      Run total;
      for (const auto& prompt : prompts) {
        Run r = Generate(**target, drafter->get(), prompt, count, k);
        total.seconds += r.seconds;
        total.tokens += r.tokens;
        total.accepted += r.accepted;
        total.steps += r.steps;
      }
      const double plain_rate = plain_tokens / plain_seconds;
      const double spec_rate = total.tokens / total.seconds;
      std::printf("%-10.0f%% %3d %12.2f %12.1f %12.1f %8.2fx\n", agreement * 100, k,
                  1.0 + double(total.accepted) / total.steps, plain_rate, spec_rate,
                  spec_rate / plain_rate);
    }
  }
  return 0;
}
