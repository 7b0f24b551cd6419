// Step time against tensor-parallel size on CPU, with the share spent in communication.
// Ranks are threads connected through Gloo over TCP on 127.0.0.1 (what separate processes do),
// one OpenMP thread each. Prints, per TP: prefill of --prompt tokens and a decode step over
// --batch sequences (median of --runs), and rank 0's communication time within them.
//   tp_bench [--hidden=256 --intermediate=1024 --layers=12 --prompt=128 --batch=4 --runs=5]
#include <omp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "engine/model/gemma4.h"
#include "engine/tools/test_checkpoint.h"
#include "parallel/gloo_communicator.h"

ABSL_FLAG(int, hidden, 256, "hidden size of the generated model");
ABSL_FLAG(int, intermediate, 1024, "MLP width");
ABSL_FLAG(int, layers, 12, "layers");
ABSL_FLAG(int, prompt, 128, "prefill tokens");
ABSL_FLAG(int, batch, 4, "sequences per decode step");
ABSL_FLAG(int, runs, 5, "repetitions (median)");
ABSL_FLAG(std::string, worlds, "1,2,4", "TP sizes");

namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  double prefill_ms = 0, prefill_comm_ms = 0, decode_ms = 0, decode_comm_ms = 0,
         decode_gather_ms = 0;
};

Timing RunRank(const gemma::Gemma4Model& model, int prompt, int batch, int runs) {
  const int block = 16;
  const int per_sequence_blocks = (prompt + runs + block) / block + 1;
  gemma::KvCache cache(model.shard_config(),
                       {block, per_sequence_blocks * batch, per_sequence_blocks * batch});
  std::vector<gemma::BlockTables> tables;
  for (int s = 0; s < batch; ++s) {
    tables.push_back(gemma::ConsecutiveBlockTables(per_sequence_blocks * block, block,
                                                   s * per_sequence_blocks));
  }
  std::vector<int32_t> tokens(prompt);
  for (int i = 0; i < prompt; ++i) tokens[i] = 1000 + 37 * i;
  std::vector<double> prefill, prefill_comm, decode, decode_comm, decode_gather;
  std::vector<float> logits;
  for (int r = 0; r < runs; ++r) {
    gemma::ForwardStats stats;
    auto start = Clock::now();
    if (!model.Forward({{tokens, 0, &tables[0], false}}, cache, &logits, {}, nullptr, &stats).ok()) {
      std::abort();
    }
    prefill.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    prefill_comm.push_back(stats.communication_ns / 1e6);
  }
  for (int s = 1; s < batch; ++s) {  // Every sequence has the prompt in its cache.
    if (!model.Forward({{tokens, 0, &tables[s], false}}, cache, &logits).ok()) std::abort();
  }
  const int32_t next[1] = {4242};
  for (int r = 0; r < runs; ++r) {
    std::vector<gemma::ForwardChunk> chunks;
    for (int s = 0; s < batch; ++s) chunks.push_back({next, prompt + r, &tables[s], false});
    gemma::ForwardStats stats;
    auto start = Clock::now();
    if (!model.Forward(chunks, cache, &logits, {}, nullptr, &stats).ok()) std::abort();
    decode.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    decode_comm.push_back(stats.communication_ns / 1e6);
    decode_gather.push_back(stats.logits_gather_ns / 1e6);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(prefill), median(prefill_comm), median(decode), median(decode_comm),
          median(decode_gather)};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  omp_set_num_threads(1);
  char dir_template[] = "/tmp/tp-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  gemma::TestCheckpointOptions options;
  options.hidden_size = absl::GetFlag(FLAGS_hidden);
  options.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  options.num_layers = absl::GetFlag(FLAGS_layers);
  options.gguf_dtype = gemma::DType::kQ8_0;
  options.gguf_path = dir + "/model.gguf";
  if (!gemma::WriteTestCheckpoint(options).ok()) return 1;
  const int prompt = absl::GetFlag(FLAGS_prompt), batch = absl::GetFlag(FLAGS_batch);
  const int runs = absl::GetFlag(FLAGS_runs);
  std::printf("model: hidden %d, intermediate %d, %d layers, 16 heads, vocab 262144, Q8_0; "
              "%u hardware threads; one thread per rank\n",
              options.hidden_size, options.intermediate_size, options.num_layers,
              std::thread::hardware_concurrency());
  std::printf("%3s | %12s %8s | %12s %8s %16s\n", "TP", "prefill ms", "comm", "decode ms", "comm",
              "logits gather");
  for (const char* world_text : {"1", "2", "4"}) {
    const int world = std::atoi(world_text);
    if (absl::GetFlag(FLAGS_worlds).find(world_text) == std::string::npos) continue;
    const std::string store = dir + "/store" + world_text;
    mkdir(store.c_str(), 0755);
    std::vector<Timing> timings(world);
    std::vector<std::thread> ranks;
    for (int r = 0; r < world; ++r) {
      ranks.emplace_back([&, r] {
        omp_set_num_threads(1);
        std::unique_ptr<gemma::parallel::GlooCommunicator> comm;
        if (world > 1) {
          gemma::parallel::GlooOptions gloo;
          gloo.rank = r;
          gloo.world_size = world;
          gloo.store_dir = store;
          comm = *gemma::parallel::GlooCommunicator::Connect(gloo);
        }
        auto model = gemma::Gemma4Model::Load(options.gguf_path, {r, world, comm.get()});
        if (!model.ok()) std::abort();
        timings[r] = RunRank(**model, prompt, batch, runs);
      });
    }
    for (std::thread& t : ranks) t.join();
    const Timing& t = timings[0];
    std::printf("%3d | %12.1f %7.0f%% | %12.2f %7.0f%% %15.0f%%\n", world, t.prefill_ms,
                100 * t.prefill_comm_ms / t.prefill_ms, t.decode_ms,
                100 * t.decode_comm_ms / t.decode_ms, 100 * t.decode_gather_ms / t.decode_ms);
  }
  return 0;
}
