// generate: loads a Gemma 4 checkpoint (HF directory or GGUF) and generates from token ids
// in-process, printing the generated ids (and their vocabulary pieces when the GGUF carries a
// vocabulary) and the speed.
//   generate --model=PATH --prompt_ids=2,105,2364,107 [--max_tokens=32] [--temperature=0]
//            [--top_k=0] [--top_p=1] [--min_p=0] [--seed=0] [--threads=N]
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/block_manager.h"
#include "engine/model/gemma4.h"
#include "engine/model/gemma4_drafter.h"
#include "engine/sampler.h"
#include "engine/speculative_step.h"

ABSL_FLAG(std::string, model, "", "HF model directory or .gguf file.");
ABSL_FLAG(std::string, prompt_ids, "2", "Comma-separated prompt token ids (BOS included).");
ABSL_FLAG(int, max_tokens, 32, "Tokens to generate.");
ABSL_FLAG(float, temperature, 0.f, "0: greedy.");
ABSL_FLAG(int, top_k, 0, "0: off.");
ABSL_FLAG(float, top_p, 1.f, "1: off.");
ABSL_FLAG(float, min_p, 0.f, "0: off.");
ABSL_FLAG(uint64_t, seed, 0, "Sampling seed.");
ABSL_FLAG(int, threads, 0, "CPU threads (0: all).");
ABSL_FLAG(bool, stop_at_eos, true, "Stop at <eos> (1) and <turn|> (106).");
ABSL_FLAG(std::string, drafter, "", "MTP drafter directory: decode speculatively with it.");
ABSL_FLAG(int, draft_tokens, 3, "Tokens drafted per step with --drafter.");

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Reads every page of the checkpoint once, drawing a progress bar, so that generation is timed
// on resident weights.
void WarmWeights(const gemma::Gemma4Model& model) {
  std::vector<std::pair<const uint8_t*, size_t>> spans;
  size_t total = 0;
  auto add = [&](const gemma::Matrix& m) {
    if (m.empty()) return;
    spans.emplace_back(static_cast<const uint8_t*>(m.data), m.rows * m.row_bytes());
    total += spans.back().second;
  };
  add(model.weights().embed);
  for (const auto& layer : model.weights().layers) {
    for (const gemma::Matrix* m : {&layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up,
                                   &layer.down}) {
      add(*m);
    }
  }
  size_t done = 0;
  volatile uint8_t sink = 0;
  int shown = -1;
  const bool terminal = isatty(STDERR_FILENO);  // Logs get only the final line.
  for (const auto& [data, size] : spans) {
    for (size_t offset = 0; offset < size; offset += 4096) {
      sink = sink + data[offset];
      done += std::min<size_t>(4096, size - offset);
      const int percent = static_cast<int>(100.0 * done / total);
      if (percent != shown && (terminal || done == total)) {
        shown = percent;
        std::fprintf(stderr, "\rloading weights [%-40s] %3d%% of %.1f MB",
                     std::string(percent * 40 / 100, '#').c_str(), percent, total / 1e6);
      }
    }
  }
  std::fprintf(stderr, "\n");
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Generates from token ids with a Gemma 4 checkpoint.");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_threads) > 0) omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  std::vector<int32_t> prompt;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_prompt_ids), ',')) {
    int32_t id;
    if (!absl::SimpleAtoi(part, &id)) {
      std::fprintf(stderr, "--prompt_ids: \"%s\" is not a token id\n", std::string(part).c_str());
      return EXIT_FAILURE;
    }
    prompt.push_back(id);
  }
  auto start = Clock::now();
  auto model = gemma::Gemma4Model::Load(absl::GetFlag(FLAGS_model));
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return EXIT_FAILURE;
  }
  WarmWeights(**model);
  const gemma::Gemma4Config& config = (*model)->config();
  std::fprintf(stderr, "loaded %s: %d layers, hidden %d, %s weights, in %.2f s\n",
               absl::GetFlag(FLAGS_model).c_str(), config.num_layers(), config.hidden_size,
               gemma::DTypeName((*model)->weights().embed.dtype), Since(start));

  gemma::SamplingParams sampling;
  sampling.temperature = absl::GetFlag(FLAGS_temperature);
  sampling.top_k = absl::GetFlag(FLAGS_top_k);
  sampling.top_p = absl::GetFlag(FLAGS_top_p);
  sampling.min_p = absl::GetFlag(FLAGS_min_p);
  sampling.seed = absl::GetFlag(FLAGS_seed);
  if (absl::Status valid = gemma::ValidateSamplingParams(sampling, config.vocab_size); !valid.ok()) {
    std::fprintf(stderr, "%s\n", valid.ToString().c_str());
    return EXIT_FAILURE;
  }
  const int max_tokens = absl::GetFlag(FLAGS_max_tokens);
  // Room for every token plus the drafts a speculative step reserves beyond them.
  const int capacity = static_cast<int>(prompt.size()) + max_tokens +
                       std::max(0, absl::GetFlag(FLAGS_draft_tokens)) + 1;
  const gemma::KvCacheOptions cache_options{16, capacity / 16 + 1, capacity / 16 + 1};
  gemma::KvCache cache(config, cache_options);
  gemma::BlockManager blocks(cache_options, config.sliding_window);
  std::vector<uint64_t> keys(prompt.begin(), prompt.end());
  (void)blocks.AddSequence(1, keys);
  if (absl::Status s = blocks.Append(1, keys); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return EXIT_FAILURE;
  }
  std::unique_ptr<gemma::Gemma4Drafter> drafter;
  if (!absl::GetFlag(FLAGS_drafter).empty()) {
    auto loaded = gemma::Gemma4Drafter::Load(absl::GetFlag(FLAGS_drafter), **model);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return EXIT_FAILURE;
    }
    drafter = std::move(*loaded);
  }
  const int draft_tokens = drafter ? std::max(0, absl::GetFlag(FLAGS_draft_tokens)) : 0;

  std::vector<float> logits, hidden;
  start = Clock::now();
  absl::Status status =
      (*model)->Forward({{prompt, 0, blocks.tables(1), false}}, cache, &logits, {}, &hidden);
  blocks.Commit(1);
  const double prefill_seconds = Since(start);
  gemma::PenaltyState penalties(prompt);
  const gemma::GgufValue* pieces =
      (*model)->checkpoint().gguf() ? (*model)->checkpoint().gguf()->Find("tokenizer.ggml.tokens")
                                    : nullptr;
  std::vector<int32_t> generated;
  int drafted = 0, accepted = 0, steps = 0;
  bool done = false;
  // Emits one token; false when generation should stop.
  auto emit = [&](int32_t token) {
    generated.push_back(token);
    penalties.AddOutput(token);
    std::printf("%d%s%s\n", token, pieces ? "\t" : "", pieces ? pieces->strings[token].c_str() : "");
    std::fflush(stdout);
    const bool eos = absl::GetFlag(FLAGS_stop_at_eos) && (token == 1 || token == 106);
    return !eos && static_cast<int>(generated.size()) < max_tokens;
  };
  start = Clock::now();
  if (status.ok()) {
    done = !emit(gemma::Sample(logits.data(), config.vocab_size, sampling, penalties, 0).token);
  }
  while (status.ok() && !done) {
    // Reserve the input token and the drafts (their keys are known after the step).
    const int position = static_cast<int>(prompt.size() + generated.size()) - 1;
    std::vector<uint64_t> reserved(1 + draft_tokens, 0);
    reserved[0] = generated.back();
    if (!(status = blocks.Append(1, reserved)).ok()) break;
    gemma::SpeculativeSequence seq;
    seq.blocks = blocks.tables(1);
    seq.token = generated.back();
    seq.position = position;
    seq.hidden = hidden;
    seq.num_draft_tokens = draft_tokens;
    seq.sampling = sampling;
    seq.penalties = &penalties;
    seq.output_index = generated.size();
    std::vector<gemma::SpeculativeOutcome> outcomes;
    if (!(status = gemma::SpeculativeStep(**model, drafter.get(), cache, {seq}, &outcomes)).ok()) {
      break;
    }
    const gemma::Acceptance& acceptance = outcomes[0].acceptance;
    drafted += draft_tokens;
    accepted += acceptance.num_accepted;
    ++steps;
    // Keep the input token and the accepted drafts; give back the rest.
    if (!(status = blocks.Truncate(1, position + 1 + acceptance.num_accepted)).ok()) break;
    std::vector<uint64_t> kept(acceptance.tokens.begin(), acceptance.tokens.end() - 1);
    if (!(status = blocks.RewriteUncommitted(1, position + 1, kept)).ok()) break;
    blocks.Commit(1);
    hidden = outcomes[0].hidden;
    for (int32_t token : acceptance.tokens) {
      if (!emit(token)) {
        done = true;
        break;
      }
    }
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return EXIT_FAILURE;
  }
  const double decode_seconds = Since(start);
  std::fprintf(stderr, "prefill: %zu tokens, %.1f tokens/s; decode: %zu tokens, %.1f tokens/s\n",
               prompt.size(), prompt.size() / prefill_seconds, generated.size(),
               generated.size() > 1 ? (generated.size() - 1) / decode_seconds : 0.0);
  if (drafter) {
    std::fprintf(stderr, "speculative: %d drafted, %d accepted (%.0f%%), mean accepted length %.2f\n",
                 drafted, accepted, drafted ? 100.0 * accepted / drafted : 0.0,
                 steps ? 1.0 + double(accepted) / steps : 0.0);
  }
  return EXIT_SUCCESS;
}
