// The router's metric set (docs/metrics.md): vLLM's names where the GKE Inference Gateway and
// existing dashboards read them, `gemma_router_` for ours. Every series carries `model_name`;
// other labels are bounded enums (finish reasons, rejection reasons, draft positions up to the
// server's max draft length).
//
// Request-level values are recorded once per request, when its last message is emitted, from the
// same usage and timings the client gets, so the counters equal what clients were told.
// Thread-safe; children are looked up once, so recording is atomic operations only (except the
// per-position spec-decode counter, looked up by position).
#ifndef GEMMA_SERVICE_ROUTER_ROUTER_METRICS_H_
#define GEMMA_SERVICE_ROUTER_ROUTER_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "gemma/v1/gemma_service.pb.h"
#include "monitoring/metrics.h"

namespace gemma {

struct CacheConfig {
  int block_size = 0;
  int num_blocks = 0;
  int num_sliding_blocks = 0;
  int sliding_window = 0;
  bool prefix_caching = true;
};

// Why the API refused a request (before queueing it), or dropped it at its deadline.
enum class Rejection { kQueueFull, kInvalidArgument, kUnauthenticated, kDeadline, kUnavailable,
                       kNotFound, kOther };

class RouterMetrics {
 public:
  // Families go into `registry`, which must outlive this.
  RouterMetrics(monitoring::Registry* registry, const std::string& model_name);

  void SetCacheConfig(const CacheConfig& config);
  void SetQueue(int waiting, int running, double kv_usage);
  // Blocks of each KV pool (`full`: full-attention layers, `sliding`: sliding-window layers).
  void SetKvBlocks(int full_used, int full_free, int sliding_used, int sliding_free);
  void AddPreemption();
  // A sequence was admitted for the first time with `prompt` tokens, `hit` of them cached.
  void AddPrefixQuery(int prompt, int hit);
  // A speculative step's outcome for one sequence.
  void AddDraft(int drafted, int accepted);
  // `tokens` tokens were emitted `gap` after the request's previous emission.
  void AddInterToken(absl::Duration gap, int tokens);
  // The request's last message (finish reason, usage, timings).
  void AddFinished(const v1::GenerateResponse& last);
  void AddRejection(Rejection reason);

 private:
  const std::string model_;
  monitoring::GaugeFamily* cache_config_;
  monitoring::Gauge *waiting_, *running_, *kv_usage_;
  monitoring::Gauge *full_used_, *full_free_, *sliding_used_, *sliding_free_;
  monitoring::Counter *preemptions_, *prompt_tokens_, *generation_tokens_;
  monitoring::Counter *prefix_queries_, *prefix_hits_;
  monitoring::Counter *drafts_, *draft_tokens_, *accepted_tokens_;
  monitoring::CounterFamily* accepted_per_position_;
  monitoring::CounterFamily* success_;
  monitoring::CounterFamily* rejections_;
  monitoring::Histogram *ttft_, *itl_, *tpot_, *e2e_, *queue_, *prefill_, *decode_;
  monitoring::Histogram *prompt_histogram_, *generation_histogram_;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_ROUTER_METRICS_H_
