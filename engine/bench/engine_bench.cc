// engine_bench: our CPU prefill and decode speed against llama.cpp's on the same GGUF and thread
// count, in one run, with the ratios. Generates a benchmark-sized checkpoint (the 12B's
// architecture at hidden 512) unless --model is given.
//   engine_bench [--model=M.gguf] [--prefill=128] [--decode=32] [--threads=2] [--dtype=f32]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "engine/model/gemma4.h"
#include "engine/tools/test_checkpoint.h"

ABSL_FLAG(std::string, model, "", "GGUF to benchmark (default: generate one).");
ABSL_FLAG(std::string, dtype, "f32", "Matrix dtype of the generated GGUF: f32, bf16, q8_0.");
ABSL_FLAG(int, prefill, 128, "Prompt tokens.");
ABSL_FLAG(int, decode, 32, "Generated tokens.");
ABSL_FLAG(int, threads, 2, "Threads for both engines.");
ABSL_FLAG(std::string, llama_script, "engine/bench/llama_bench.mjs", "The llama.cpp side.");

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int prefill = absl::GetFlag(FLAGS_prefill), decode = absl::GetFlag(FLAGS_decode);
  const int threads = absl::GetFlag(FLAGS_threads);
  std::string model_path = absl::GetFlag(FLAGS_model);
  if (model_path.empty()) {
    gemma::TestCheckpointOptions options;
    options.hidden_size = 512;
    options.intermediate_size = 2048;
    options.head_dim_sliding = 64;
    options.head_dim_full = 128;
    options.sliding_window = 64;
    const std::string dtype = absl::GetFlag(FLAGS_dtype);
    options.gguf_dtype = dtype == "bf16"   ? gemma::DType::kBF16
                         : dtype == "q8_0" ? gemma::DType::kQ8_0
                                           : gemma::DType::kF32;
    const char* tmp = std::getenv("TMPDIR");
    model_path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/engine_bench_", dtype, ".gguf");
    options.gguf_path = model_path;
    std::fprintf(stderr, "generating %s ...\n", model_path.c_str());
    absl::Status status = gemma::WriteTestCheckpoint(options);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  omp_set_num_threads(threads);
  auto model = gemma::Gemma4Model::Load(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  const int block = 16, capacity = prefill + decode + 16;
  gemma::KvCache cache((*model)->config(), {block, capacity / block + 1, capacity / block + 1});
  gemma::BlockTables tables = gemma::ConsecutiveBlockTables(capacity, block);
  std::vector<int32_t> prompt = {2};
  for (int i = 1; i < prefill; ++i) prompt.push_back(1000 + (i * 7919) % 200000);
  std::vector<float> logits;

  // Warm-up, then three measured runs of prefill + decode; the medians are reported.
  (void)(*model)->Forward({{absl::MakeConstSpan(prompt).subspan(0, 8), 0, &tables, false}}, cache,
                          &logits);
  std::vector<double> prefill_rates, decode_rates;
  for (int repeat = 0; repeat < 3; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    absl::Status status = (*model)->Forward({{prompt, 0, &tables, false}}, cache, &logits);
    prefill_rates.push_back(prefill / Seconds(start));
    start = std::chrono::steady_clock::now();
    int32_t token = 0;
    for (int i = 0; i < decode && status.ok(); ++i) {
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      status = (*model)->Forward({{absl::MakeConstSpan(&token, 1), prefill + i, &tables, false}},
                                 cache, &logits);
    }
    decode_rates.push_back(decode / Seconds(start));
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  std::sort(prefill_rates.begin(), prefill_rates.end());
  std::sort(decode_rates.begin(), decode_rates.end());
  const double ours_prefill = prefill_rates[1], ours_decode = decode_rates[1];

  const std::string command =
      absl::StrCat("node ", absl::GetFlag(FLAGS_llama_script), " ", model_path, " ", prefill, " ",
                   decode, " ", threads);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), &pclose);
  std::string output;
  char buffer[4096];
  while (pipe && fgets(buffer, sizeof(buffer), pipe.get()) != nullptr) output += buffer;
  nlohmann::json llama = nlohmann::json::parse(output, nullptr, false);
  if (llama.is_discarded()) {
    std::fprintf(stderr, "llama.cpp side failed: %s\n", output.c_str());
    return 1;
  }
  const double llama_prefill = llama["prefill_tokens_per_s"], llama_decode = llama["decode_tokens_per_s"];
  const auto& c = (*model)->config();
  std::printf("model: %s (hidden %d, %d layers, weights %s), %d threads\n", model_path.c_str(),
              c.hidden_size, c.num_layers(), gemma::DTypeName((*model)->weights().layers[0].q.dtype),
              threads);
  std::printf("%-10s %14s %14s %8s\n", "", "ours tok/s", "llama.cpp", "ratio");
  std::printf("%-10s %14.1f %14.1f %7.2fx  (target >= 0.8x)\n", "prefill", ours_prefill,
              llama_prefill, ours_prefill / llama_prefill);
  std::printf("%-10s %14.1f %14.1f %7.2fx  (target >= 1.0x)\n", "decode", ours_decode,
              llama_decode, ours_decode / llama_decode);
  return 0;
}
