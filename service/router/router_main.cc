// The router: gemma.v1.Gemma for clients, over a preprocess service and one worker group.
//   router --tokenizer=MODEL_DIR|vocab.gguf --preprocess=HOST:PORT
//          (--workers=HOST:PORT,... | --worker_group_state=FILE) [--port=50050] [...]
// Warms the workers up (their KV pools set the scheduler's), then serves. SIGTERM drains: health
// NOT_SERVING, in-flight streams finish within --drain_timeout_ms.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "service/common/grpc_server.h"
#include "service/common/log.h"
#include "service/common/shutdown_signal.h"
#include "service/router/router_service.h"
#include "service/router/worker_group_client.h"

ABSL_FLAG(std::string, tokenizer, "", "Model directory (tokenizer.json) or vocabulary GGUF");
ABSL_FLAG(std::string, preprocess, "", "host:port of the preprocess service");
ABSL_FLAG(std::string, workers, "", "Comma-separated host:port of worker ranks 0, 1, ...");
ABSL_FLAG(std::string, worker_group_state, "", "Or the state file worker_launcher writes");
ABSL_FLAG(std::string, model_name, "gemma-4-12b", "Served model name");
ABSL_FLAG(int, max_batch_tokens, 512, "Prefill + decode positions per step");
ABSL_FLAG(int, max_running, 64, "Sequences holding KV at once");
ABSL_FLAG(int, max_context, 4096, "Prompt plus generated tokens");
ABSL_FLAG(int, max_queue, 1024, "Waiting requests before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, default_max_tokens, 512, "max_tokens when the request leaves it unset");
ABSL_FLAG(std::string, api_keys_file, "",
          "API keys (\"<key> <tenant|*>\" per line): every gemma.v1 call needs one (default: none)");
ABSL_FLAG(int, kv_blocks, 0, "KV blocks per pool on each worker (0: the workers decide)");
ABSL_FLAG(int, max_draft_tokens, 4,
          "Cap on MTP draft tokens per sequence and step (0: no speculation; ignored without a "
          "drafter)");
ABSL_FLAG(bool, speculative_by_default, true,
          "Speculate for requests that leave speculative.enable unset");
ABSL_FLAG(double, draft_cost, 0.05,
          "One drafter pass in target decode steps (draft policy; the 12B drafter is ~0.03)");
ABSL_FLAG(int, spec_saturation_tokens, 256,
          "Decode positions per step at which a step turns compute-bound (draft policy)");

namespace {

constexpr const char* kName = "router";

std::vector<std::string> WorkerAddresses() {
  if (!absl::GetFlag(FLAGS_workers).empty()) {
    return absl::StrSplit(absl::GetFlag(FLAGS_workers), ',', absl::SkipEmpty());
  }
  std::ifstream in(absl::GetFlag(FLAGS_worker_group_state));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json state = nlohmann::json::parse(text.str(), nullptr, false);
  std::vector<std::string> addresses;
  if (state.is_object()) {
    for (const auto& rank : state["ranks"]) addresses.push_back(rank["address"]);
  }
  return addresses;
}

}  // namespace

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;
  absl::SetProgramUsageMessage("gemma-serve router (gemma.v1.Gemma).");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<gemma::ServerOptions> options = gemma::ServerOptionsFromFlags(50050);
  if (!options.ok()) {
    gemma::LogError(kName, "%s", options.status().ToString());
    return EXIT_FAILURE;
  }
  auto tokenizer = gemma::Tokenizer::Load(absl::GetFlag(FLAGS_tokenizer));
  if (!tokenizer.ok()) {
    gemma::LogError(kName, "%s", tokenizer.status().ToString());
    return EXIT_FAILURE;
  }
  const std::vector<std::string> addresses = WorkerAddresses();
  if (addresses.empty() || absl::GetFlag(FLAGS_preprocess).empty()) {
    gemma::LogError(kName, "need --preprocess and --workers (or --worker_group_state)");
    return EXIT_FAILURE;
  }
  gemma::WorkerGroupClient workers(addresses);
  absl::StatusOr<gemma::worker::v1::InfoResponse> info = workers.Info();
  if (!info.ok()) {
    gemma::LogError(kName, "workers: %s", info.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::worker::v1::WarmupRequest warmup;
  warmup.set_max_batch_tokens(absl::GetFlag(FLAGS_max_batch_tokens));
  warmup.set_max_sequences(absl::GetFlag(FLAGS_max_running));
  warmup.set_num_full_blocks(absl::GetFlag(FLAGS_kv_blocks));
  warmup.set_num_sliding_blocks(absl::GetFlag(FLAGS_kv_blocks));
  absl::StatusOr<gemma::worker::v1::KvCacheGeometry> geometry = workers.Warmup(warmup);
  if (geometry.ok()) geometry = workers.Recover();  // Forget an earlier router's sequences.
  if (!geometry.ok()) {
    gemma::LogError(kName, "warmup: %s", geometry.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::SchedulerOptions scheduling;
  scheduling.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  scheduling.max_running = absl::GetFlag(FLAGS_max_running);
  scheduling.max_waiting = absl::GetFlag(FLAGS_max_queue);
  scheduling.max_context = std::min<int>(absl::GetFlag(FLAGS_max_context), info->max_position());
  scheduling.kv = {static_cast<int>(geometry->block_size()),
                   static_cast<int>(geometry->num_full_blocks()),
                   static_cast<int>(geometry->num_sliding_blocks())};
  scheduling.sliding_window = static_cast<int>(geometry->sliding_window());
  if (!info->drafter().empty()) {
    scheduling.speculation.max_draft_tokens = std::max(0, absl::GetFlag(FLAGS_max_draft_tokens));
  }
  scheduling.speculation.draft_cost = absl::GetFlag(FLAGS_draft_cost);
  scheduling.speculation.saturation_tokens = absl::GetFlag(FLAGS_spec_saturation_tokens);
  gemma::monitoring::Registry registry;
  gemma::RouterMetrics metrics(&registry, absl::GetFlag(FLAGS_model_name));
  metrics.SetCacheConfig({scheduling.kv.block_size, scheduling.kv.num_full_blocks,
                          scheduling.kv.num_sliding_blocks, scheduling.sliding_window, true});
  gemma::Scheduler scheduler(&workers, scheduling, &metrics);

  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_preprocess),
                                     grpc::InsecureChannelCredentials());
  auto preprocess = gemma::preprocess::v1::Preprocess::NewStub(channel);
  gemma::RouterOptions router;
  router.model_name = absl::GetFlag(FLAGS_model_name);
  router.architecture = info->architecture();
  router.max_context = scheduling.max_context;
  router.default_max_tokens = absl::GetFlag(FLAGS_default_max_tokens);
  router.tensor_parallel_size = workers.world_size();
  router.kv_block_size = geometry->block_size();
  router.num_kv_blocks = geometry->num_full_blocks();
  router.drafter = info->drafter();
  router.max_draft_tokens = scheduling.speculation.max_draft_tokens;
  router.speculative_by_default = absl::GetFlag(FLAGS_speculative_by_default);
  std::unique_ptr<gemma::ApiKeys> api_keys;
  if (!absl::GetFlag(FLAGS_api_keys_file).empty()) {
    absl::StatusOr<std::unique_ptr<gemma::ApiKeys>> loaded =
        gemma::ApiKeys::Load(absl::GetFlag(FLAGS_api_keys_file));
    if (!loaded.ok()) {
      gemma::LogError(kName, "%s", loaded.status().ToString());
      return EXIT_FAILURE;
    }
    api_keys = std::move(*loaded);
  }
  gemma::RouterService service(preprocess.get(), &scheduler, tokenizer->get(), router, &metrics,
                               api_keys.get());

  absl::StatusOr<std::unique_ptr<gemma::GrpcServer>> server = gemma::GrpcServer::Start(
      *options, {{&service, gemma::v1::Gemma::service_full_name()}}, /*serving=*/true, &registry);
  if (!server.ok()) {
    gemma::LogError(kName, "%s", server.status().ToString());
    return EXIT_FAILURE;
  }
  // The scheduling thread; health follows the worker group (NOT_SERVING while it is down).
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    bool available = true;
    while (!stop.load()) {
      const bool busy = scheduler.RunOnce();
      if (scheduler.available() != available) {
        available = scheduler.available();
        (*server)->SetServing(available);
        gemma::LogInfo(kName, "%s",
                       available ? "worker group back: serving"
                                 : "worker group failed: NOT_SERVING until it is back");
      }
      if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  gemma::LogInfo(kName, "serving %s: %d worker ranks, %d KV blocks of %d, context %d",
                 (*server)->address(), workers.world_size(), geometry->num_full_blocks(),
                 geometry->block_size(), scheduling.max_context);
  const int signal = shutdown_signal.Wait();
  gemma::LogInfo(kName, "signal %d: draining", signal);
  (*server)->Shutdown();  // In-flight streams finish while the loop keeps stepping.
  stop = true;
  loop.join();
  return EXIT_SUCCESS;
}
