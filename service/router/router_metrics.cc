#include "service/router/router_metrics.h"

#include <vector>

namespace gemma {
namespace {

using monitoring::Counter;
using monitoring::Gauge;
using monitoring::Histogram;

std::vector<double> TokenCountBuckets() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 131072};
}

// vLLM's finished_reason values; a stop string is a "stop" there too.
const char* FinishedReason(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_STOP:
    case v1::FINISH_REASON_STOP_STRING: return "stop";
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_ABORT: return "abort";
    default: return "error";
  }
}

const char* RejectionLabel(Rejection reason) {
  switch (reason) {
    case Rejection::kQueueFull: return "queue_full";
    case Rejection::kInvalidArgument: return "invalid_argument";
    case Rejection::kUnauthenticated: return "unauthenticated";
    case Rejection::kDeadline: return "deadline";
    case Rejection::kUnavailable: return "unavailable";
    case Rejection::kNotFound: return "not_found";
    case Rejection::kOther: break;
  }
  return "other";
}

double Seconds(int64_t micros) { return static_cast<double>(micros) * 1e-6; }

}  // namespace

RouterMetrics::RouterMetrics(monitoring::Registry* registry, const std::string& model_name)
    : model_(model_name) {
  const std::vector<std::string> model = {"model_name"};
  auto gauge = [&](const char* name, const char* help) {
    return registry->AddGauge(name, help, model)->WithLabels({model_});
  };
  auto counter = [&](const char* name, const char* help) {
    return registry->AddCounter(name, help, model)->WithLabels({model_});
  };
  auto histogram = [&](const char* name, const char* help, std::vector<double> bounds) {
    return registry->AddHistogram(name, help, model, std::move(bounds))->WithLabels({model_});
  };
  waiting_ = gauge("vllm:num_requests_waiting", "Requests waiting to be scheduled.");
  running_ = gauge("vllm:num_requests_running", "Requests holding KV blocks on the workers.");
  kv_usage_ = gauge("vllm:kv_cache_usage_perc",
                    "Fraction of full-attention KV blocks in use (1 = 100%).");
  monitoring::GaugeFamily* blocks = registry->AddGauge(
      "gemma_router_kv_blocks", "KV blocks by pool (layer type) and state, as the router accounts them.",
      {"model_name", "pool", "state"});
  full_used_ = blocks->WithLabels({model_, "full", "used"});
  full_free_ = blocks->WithLabels({model_, "full", "free"});
  sliding_used_ = blocks->WithLabels({model_, "sliding", "used"});
  sliding_free_ = blocks->WithLabels({model_, "sliding", "free"});
  cache_config_ = registry->AddGauge(
      "vllm:cache_config_info", "KV cache configuration (value 1).",
      {"model_name", "block_size", "num_gpu_blocks", "num_sliding_blocks", "sliding_window",
       "enable_prefix_caching"});
  preemptions_ = counter("vllm:num_preemptions_total", "Sequences preempted (recomputed later).");
  prompt_tokens_ = counter("vllm:prompt_tokens_total", "Prompt tokens of finished requests.");
  generation_tokens_ =
      counter("vllm:generation_tokens_total", "Generated tokens of finished requests.");
  prefix_queries_ = counter("vllm:prefix_cache_queries_total",
                            "Prompt tokens looked up in the prefix cache.");
  prefix_hits_ = counter("vllm:prefix_cache_hits_total", "Of those, tokens found cached.");
  drafts_ = counter("vllm:spec_decode_num_drafts_total", "Speculative steps (drafts verified).");
  draft_tokens_ = counter("vllm:spec_decode_num_draft_tokens_total", "Tokens drafted by MTP.");
  accepted_tokens_ =
      counter("vllm:spec_decode_num_accepted_tokens_total", "Drafted tokens accepted.");
  accepted_per_position_ = registry->AddCounter("vllm:spec_decode_num_accepted_tokens_per_pos_total",
                                                "Accepted drafted tokens by draft position.",
                                                {"model_name", "position"});
  success_ = registry->AddCounter("vllm:request_success_total", "Finished requests by reason.",
                                  {"model_name", "finished_reason"});
  rejections_ = registry->AddCounter("gemma_router_rejections_total",
                                     "Requests refused before queueing, or dropped at their deadline, by reason.",
                                     {"model_name", "reason"});
  ttft_ = histogram("vllm:time_to_first_token_seconds", "Arrival to first token.",
                    monitoring::TimeToFirstTokenBuckets());
  itl_ = histogram("vllm:inter_token_latency_seconds", "Time between emitted tokens.",
                   monitoring::InterTokenLatencyBuckets());
  tpot_ = histogram("vllm:request_time_per_output_token_seconds",
                    "Decode time over generated tokens after the first, per request.",
                    monitoring::InterTokenLatencyBuckets());
  e2e_ = histogram("vllm:e2e_request_latency_seconds", "Arrival to last message.",
                   monitoring::RequestLatencyBuckets());
  queue_ = histogram("vllm:request_queue_time_seconds", "Arrival to first scheduled.",
                     monitoring::RequestLatencyBuckets());
  prefill_ = histogram("vllm:request_prefill_time_seconds", "First scheduled to first token.",
                       monitoring::RequestLatencyBuckets());
  decode_ = histogram("vllm:request_decode_time_seconds", "First token to last token.",
                      monitoring::RequestLatencyBuckets());
  prompt_histogram_ =
      histogram("vllm:request_prompt_tokens", "Prompt tokens per request.", TokenCountBuckets());
  generation_histogram_ = histogram("vllm:request_generation_tokens",
                                    "Generated tokens per request.", TokenCountBuckets());
  for (const char* reason : {"stop", "length", "abort", "error"}) {
    success_->WithLabels({model_, reason});  // Zero-valued series from the start.
  }
}

void RouterMetrics::SetCacheConfig(const CacheConfig& c) {
  cache_config_
      ->WithLabels({model_, std::to_string(c.block_size), std::to_string(c.num_blocks),
                    std::to_string(c.num_sliding_blocks), std::to_string(c.sliding_window),
                    c.prefix_caching ? "True" : "False"})
      ->Set(1);
}

void RouterMetrics::SetQueue(int waiting, int running, double kv_usage) {
  waiting_->Set(waiting);
  running_->Set(running);
  kv_usage_->Set(kv_usage);
}

void RouterMetrics::SetKvBlocks(int full_used, int full_free, int sliding_used,
                                int sliding_free) {
  full_used_->Set(full_used);
  full_free_->Set(full_free);
  sliding_used_->Set(sliding_used);
  sliding_free_->Set(sliding_free);
}

void RouterMetrics::AddPreemption() { preemptions_->Increment(); }

void RouterMetrics::AddPrefixQuery(int prompt, int hit) {
  prefix_queries_->Increment(prompt);
  prefix_hits_->Increment(hit);
}

void RouterMetrics::AddDraft(int drafted, int accepted) {
  if (drafted <= 0) return;
  drafts_->Increment();
  draft_tokens_->Increment(drafted);
  accepted_tokens_->Increment(accepted);
  for (int i = 0; i < drafted; ++i) {
    accepted_per_position_->WithLabels({model_, std::to_string(i)})->Increment(i < accepted);
  }
}

void RouterMetrics::AddInterToken(absl::Duration gap, int tokens) {
  if (tokens <= 0) return;
  // A speculative step emits several tokens at once: each is one gap / tokens apart.
  const double each = absl::ToDoubleSeconds(gap) / tokens;
  for (int i = 0; i < tokens; ++i) itl_->Observe(each);
}

void RouterMetrics::AddFinished(const v1::GenerateResponse& last) {
  success_->WithLabels({model_, FinishedReason(last.finish_reason())})->Increment();
  const v1::Usage& usage = last.usage();
  const v1::Timings& t = last.timings();
  prompt_tokens_->Increment(usage.prompt_tokens());
  generation_tokens_->Increment(usage.completion_tokens());
  prompt_histogram_->Observe(usage.prompt_tokens());
  generation_histogram_->Observe(usage.completion_tokens());
  e2e_->Observe(Seconds(t.total_us()));
  if (t.time_to_first_token_us() > 0) {  // Scheduled and produced a token.
    queue_->Observe(Seconds(t.queue_us()));
    ttft_->Observe(Seconds(t.time_to_first_token_us()));
    prefill_->Observe(Seconds(t.time_to_first_token_us() - t.queue_us()));
    decode_->Observe(Seconds(t.decode_us()));
    if (usage.completion_tokens() > 1) {
      tpot_->Observe(Seconds(t.decode_us()) / (usage.completion_tokens() - 1));
    }
  }
}

void RouterMetrics::AddRejection(Rejection reason) {
  rejections_->WithLabels({model_, RejectionLabel(reason)})->Increment();
}

}  // namespace gemma
