// GPU benchmark on the 12B's exact shapes with random bf16 weights (about 24 GB; no checkpoint):
//   cuda_bench [--layers=48] [--prompt=128] [--decode=32] [--prefill=512]
// Prints, from one run: the device's copy bandwidth and the HBM roofline for batch-1 decode
// (weight bytes / bandwidth), batch-1 decode tokens/s and its share of the roofline (target
// >= 80 %), prefill tokens/s against the time of the same step's GEMMs alone (cuBLAS-bound;
// target within 2x), and decode throughput at batch 16 and 64. With --spec_target and
// --spec_drafter (a pair whose acceptance is set by construction), greedy speculative decoding
// against plain decoding for draft lengths 1..6: mean accepted length, tokens/s, speedup, and
// that both produce the same tokens. Exits 2 without a GPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/cuda/cuda_drafter.h"
#include "engine/cuda/cuda_model.h"
#include "engine/cuda/kernels.h"

ABSL_FLAG(int, layers, 48, "Decoder layers (the 12B has 48).");
ABSL_FLAG(int, prompt, 128, "Prompt length before decoding.");
ABSL_FLAG(int, decode, 32, "Timed decode steps.");
ABSL_FLAG(int, prefill, 512, "Tokens of the timed prefill.");
ABSL_FLAG(std::string, spec_target, "",
          "Speculative decoding: an echo target from make_test_checkpoint --echo (HF dir).");
ABSL_FLAG(std::string, spec_drafter, "",
          "Speculative decoding: its drafter, --drafter_agreement set (HF dir).");
ABSL_FLAG(int, spec_tokens, 64, "Speculative decoding: tokens generated per run.");

namespace gemma::cuda {
namespace {

constexpr int kBlock = 16;

Gemma4Config Gemma4_12B(int layers) {
  Gemma4Config c;
  c.architecture = "gemma-4-12B shapes, random bf16";
  c.vocab_size = 262144;
  c.hidden_size = 3840;
  c.intermediate_size = 15360;
  c.num_heads = 16;
  for (int i = 0; i < layers; ++i) {
    c.layer_types.push_back((i + 1) % 6 == 0 || i + 1 == layers ? LayerType::kFull
                                                                : LayerType::kSliding);
  }
  c.sliding = {8, 256, 1e4f, 128};
  c.full = {1, 512, 1e6f, 64};  // Proportional RoPE: 64 of 256 pairs rotate.
  c.sliding_window = 1024;
  c.attention_k_eq_v = true;
  c.final_logit_softcap = 30.f;
  c.max_position = 262144;
  return c;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Device-to-device copy bandwidth (read + write bytes per second).
double CopyBandwidth() {
  const size_t bytes = size_t{2} << 30;
  DeviceBuffer a, b;
  if (!a.Allocate(bytes).ok() || !b.Allocate(bytes).ok()) return 0;
  cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice);
  cudaDeviceSynchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice);
  cudaDeviceSynchronize();
  return 5.0 * 2 * bytes / Seconds(start);
}

// The step's GEMMs alone for `rows` tokens (the cuBLAS-bound time of a prefill).
double GemmSeconds(const Gemma4Config& c, int rows) {
  auto gemm = Gemm::Create();
  if (!gemm.ok()) return 0;
  struct Shape {
    int n, k;
  };
  std::vector<Shape> shapes;
  for (LayerType type : c.layer_types) {
    const AttentionGeometry& g = c.geometry(type);
    shapes.push_back({c.num_heads * g.head_dim, c.hidden_size});
    shapes.push_back({g.num_kv_heads * g.head_dim, c.hidden_size});
    if (c.has_v_proj(type)) shapes.push_back({g.num_kv_heads * g.head_dim, c.hidden_size});
    shapes.push_back({c.hidden_size, c.num_heads * g.head_dim});
    shapes.push_back({c.intermediate_size, c.hidden_size});
    shapes.push_back({c.intermediate_size, c.hidden_size});
    shapes.push_back({c.hidden_size, c.intermediate_size});
  }
  shapes.push_back({c.vocab_size, c.hidden_size});  // One LM-head row per prefill chunk.
  size_t max_w = 0, max_x = 0, max_y = 0;
  for (const Shape& s : shapes) {
    max_w = std::max(max_w, size_t(s.n) * s.k);
    max_x = std::max(max_x, size_t(rows) * s.k);
    max_y = std::max(max_y, size_t(rows) * s.n);
  }
  DeviceBuffer w, x, y;
  if (!w.Allocate(max_w * 2).ok() || !x.Allocate(max_x * 2).ok() || !y.Allocate(max_y * 4).ok()) {
    return 0;
  }
  auto run_all = [&] {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const int m = i + 1 == shapes.size() ? 1 : rows;
      (void)gemm->Run(w.as<uint16_t>(), x.as<uint16_t>(), y.as<float>(), m, shapes[i].n,
                      shapes[i].k, nullptr);
    }
  };
  run_all();  // Plans and warm-up.
  cudaDeviceSynchronize();
  const auto start = std::chrono::steady_clock::now();
  run_all();
  cudaDeviceSynchronize();
  return Seconds(start);
}

int Run() {
  std::string why;
  if (!HasGpu(&why)) {
    std::fprintf(stderr, "cuda_bench: %s\n", why.c_str());
    return 2;
  }
  cudaDeviceProp props;
  cudaGetDeviceProperties(&props, 0);
  const Gemma4Config config = Gemma4_12B(absl::GetFlag(FLAGS_layers));
  auto model = CudaGemma4Model::CreateRandom(config, 42);
  if (!model.ok()) {
    std::fprintf(stderr, "cuda_bench: %s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  const double bandwidth = CopyBandwidth();
  const double weight_gb = (*model)->weight_bytes() / 1e9;
  const double roofline = bandwidth / (*model)->weight_bytes();
  std::printf(
      "device %s, copy bandwidth %.0f GB/s; weights %.2f GB (bf16) -> batch-1 decode "
      "roofline %.1f tokens/s\n",
      props.name, bandwidth / 1e9, weight_gb, roofline);

  const int prompt = absl::GetFlag(FLAGS_prompt), decode = absl::GetFlag(FLAGS_decode);
  const int max_batch = 64, context = std::max(prompt + decode + 1, absl::GetFlag(FLAGS_prefill));
  const int blocks_per_seq = (context + kBlock - 1) / kBlock;
  auto cache =
      CudaKvCache::Create(config, {kBlock, max_batch * blocks_per_seq, max_batch * blocks_per_seq});
  if (!cache.ok()) {
    std::fprintf(stderr, "cuda_bench: %s\n", std::string(cache.status().message()).c_str());
    return 1;
  }
  std::vector<BlockTables> tables;
  for (int s = 0; s < max_batch; ++s) {
    tables.push_back(ConsecutiveBlockTables(context, kBlock, s * blocks_per_seq));
  }
  std::vector<int32_t> tokens(context);
  for (int i = 0; i < context; ++i) tokens[i] = 1000 + (i * 7919) % 200000;
  int rows = 0;
  auto step = [&](const std::vector<ForwardChunk>& chunks) {
    absl::StatusOr<const float*> logits = (*model)->ForwardOnDevice(chunks, *cache, &rows);
    if (!logits.ok()) {
      std::fprintf(stderr, "cuda_bench: %s\n", std::string(logits.status().message()).c_str());
      std::exit(1);
    }
  };

  // Prefill of `prefill` tokens, against the same GEMMs alone.
  const int prefill = absl::GetFlag(FLAGS_prefill);
  const absl::Span<const int32_t> prefill_tokens(tokens.data(), prefill);
  step({{prefill_tokens, 0, &tables[0], false}});  // Warm-up (plans, allocations).
  auto start = std::chrono::steady_clock::now();
  step({{prefill_tokens, 0, &tables[0], false}});
  const double prefill_s = Seconds(start);
  const double gemm_s = GemmSeconds(config, prefill);
  std::printf(
      "prefill %d tokens: %.0f tokens/s (%.1f ms); its GEMMs alone %.1f ms -> %.2fx of "
      "cuBLAS-bound (target <= 2x)\n",
      prefill, prefill / prefill_s, prefill_s * 1e3, gemm_s * 1e3, prefill_s / gemm_s);

  // Decode at batch 1, 16, 64 after a prompt of `prompt` tokens each.
  for (int batch : {1, 16, 64}) {
    for (int s = 0; s < batch; ++s) {
      step({{absl::Span<const int32_t>(tokens.data(), prompt), 0, &tables[s], false}});
    }
    std::vector<ForwardChunk> chunks(batch);
    double total = 0;
    for (int t = 0; t <= decode; ++t) {
      for (int s = 0; s < batch; ++s) {
        chunks[s] = {absl::Span<const int32_t>(&tokens[prompt + t], 1), prompt + t, &tables[s],
                     false};
      }
      start = std::chrono::steady_clock::now();
      step(chunks);
      if (t > 0) total += Seconds(start);  // Step 0 warms this batch size up.
    }
    const double per_step = total / decode;
    if (batch == 1) {
      std::printf(
          "decode batch 1: %.1f tokens/s (%.2f ms/token) = %.0f %% of the roofline "
          "(target >= 80 %%)\n",
          1 / per_step, per_step * 1e3, 100 / per_step / roofline);
    } else {
      std::printf("decode batch %d: %.0f tokens/s (%.2f ms/step)\n", batch, batch / per_step,
                  per_step * 1e3);
    }
  }
  return 0;
}

int Argmax(const float* row, int vocab) {
  return static_cast<int>(std::max_element(row, row + vocab) - row);
}

// Greedy decoding of `count` tokens after `prompt`, plain (draft_length 0) or speculative; adds
// the drafted and accepted counts.
std::vector<int32_t> Generate(CudaGemma4Model& target, CudaGemma4Drafter* drafter,
                              CudaKvCache& cache, const BlockTables& tables,
                              const std::vector<int32_t>& prompt, int count, int draft_length,
                              int* steps, int* accepted) {
  const int vocab = target.config().vocab_size;
  std::vector<float> logits, hidden;
  auto check = [](const absl::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "cuda_bench: %s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
  };
  check(target.Forward({{prompt, 0, &tables, false}}, cache, &logits, &hidden));
  std::vector<int32_t> out = {Argmax(logits.data(), vocab)};
  int position = static_cast<int>(prompt.size());
  while (static_cast<int>(out.size()) < count) {
    ++*steps;
    std::vector<int32_t> chunk = {out.back()};
    if (draft_length > 0) {
      std::vector<int32_t> drafts;
      const DraftSequence seq{&tables, position};
      check(drafter->Draft(cache, absl::MakeConstSpan(&seq, 1), absl::MakeConstSpan(&out.back(), 1),
                           hidden, draft_length, &drafts));
      chunk.insert(chunk.end(), drafts.begin(), drafts.end());
    }
    // Verify every drafted position in one pass (a plain decode when nothing was drafted).
    check(target.Forward({{chunk, position, &tables, draft_length > 0}}, cache, &logits, &hidden));
    int i = 0;
    while (true) {
      const int32_t choice = Argmax(&logits[static_cast<size_t>(i) * vocab], vocab);
      out.push_back(choice);
      if (i + 1 >= static_cast<int>(chunk.size()) || chunk[i + 1] != choice) break;
      ++i;
      ++*accepted;
    }
    position += i + 1;
    hidden.assign(hidden.begin() + static_cast<size_t>(i) * target.config().hidden_size,
                  hidden.begin() + static_cast<size_t>(i + 1) * target.config().hidden_size);
  }
  out.resize(count);
  return out;
}

int RunSpeculative() {
  const std::string target_path = absl::GetFlag(FLAGS_spec_target);
  const std::string drafter_path = absl::GetFlag(FLAGS_spec_drafter);
  if (target_path.empty() || drafter_path.empty()) return 0;
  auto target = CudaGemma4Model::Load(target_path);
  if (!target.ok()) {
    std::fprintf(stderr, "cuda_bench: %s\n", std::string(target.status().message()).c_str());
    return 1;
  }
  auto drafter = CudaGemma4Drafter::Load(drafter_path, **target);
  if (!drafter.ok()) {
    std::fprintf(stderr, "cuda_bench: %s\n", std::string(drafter.status().message()).c_str());
    return 1;
  }
  const int count = absl::GetFlag(FLAGS_spec_tokens);
  const int context = 16 + count + 8;
  auto cache = CudaKvCache::Create(
      (*target)->config(), {kBlock, (context + kBlock) / kBlock, (context + kBlock) / kBlock});
  if (!cache.ok()) return 1;
  const BlockTables tables = ConsecutiveBlockTables(context, kBlock);
  std::vector<std::vector<int32_t>> prompts;
  for (int p = 0; p < 8; ++p) {
    std::vector<int32_t> prompt = {2};
    for (int i = 0; i < 15; ++i) prompt.push_back(1000 + (p * 104729 + i * 7919) % 250000);
    prompts.push_back(prompt);
  }
  std::printf("speculative decoding (%s + %s, greedy, %d tokens x %zu prompts):\n",
              target_path.c_str(), drafter_path.c_str(), count, prompts.size());
  std::printf("   k  mean accepted  plain tok/s  spec tok/s  speedup  same tokens\n");
  double plain_rate = 0;
  std::vector<std::vector<int32_t>> reference;
  int failures = 0;
  for (int k = 0; k <= 6; ++k) {
    int steps = 0, accepted = 0;
    std::vector<std::vector<int32_t>> outputs;
    Generate(**target, drafter->get(), *cache, tables, prompts[0], 8, k, &steps, &accepted);
    steps = accepted = 0;  // The run above warms this draft length up.
    const auto start = std::chrono::steady_clock::now();
    for (const std::vector<int32_t>& prompt : prompts) {
      outputs.push_back(
          Generate(**target, drafter->get(), *cache, tables, prompt, count, k, &steps, &accepted));
    }
    const double rate = count * prompts.size() / Seconds(start);
    if (k == 0) {
      plain_rate = rate;
      reference = outputs;
      continue;
    }
    const bool same = outputs == reference;
    failures += !same;
    std::printf("  %2d  %13.2f  %11.1f  %10.1f  %6.2fx  %s\n", k, 1.0 + double(accepted) / steps,
                plain_rate, rate, rate / plain_rate, same ? "yes" : "NO");
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace gemma::cuda

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int status = gemma::cuda::Run();
  if (status != 0) return status;
  return gemma::cuda::RunSpeculative();
}
