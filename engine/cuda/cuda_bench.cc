// GPU benchmark on the 12B's exact shapes with random bf16 weights (about 24 GB; no checkpoint):
//   cuda_bench [--layers=48] [--prompt=128] [--decode=32] [--prefill=512]
// Prints, from one run: the device's copy bandwidth and the HBM roofline for batch-1 decode
// (weight bytes / bandwidth), batch-1 decode tokens/s and its share of the roofline (target
// >= 80 %), prefill tokens/s against the time of the same step's GEMMs alone (cuBLAS-bound;
// target within 2x), and decode throughput at batch 16 and 64. Exits 2 without a GPU.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/cuda/cuda_model.h"
#include "engine/cuda/kernels.h"

ABSL_FLAG(int, layers, 48, "Decoder layers (the 12B has 48).");
ABSL_FLAG(int, prompt, 128, "Prompt length before decoding.");
ABSL_FLAG(int, decode, 32, "Timed decode steps.");
ABSL_FLAG(int, prefill, 512, "Tokens of the timed prefill.");

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
  std::printf("speculative decoding: not measured (the drafter does not run on the GPU yet)\n");
  return 0;
}

}  // namespace
}  // namespace gemma::cuda

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return gemma::cuda::Run();
}
