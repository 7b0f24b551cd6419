// One generation request inside the router, from admission to its last message: what the
// client asked (set before Submit, then read-only) and the scheduling state the scheduling thread
// keeps for it.
#ifndef GEMMA_SERVICE_ROUTER_SCHEDULED_REQUEST_H_
#define GEMMA_SERVICE_ROUTER_SCHEDULED_REQUEST_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gemma/preprocess/v1/media.pb.h"
#include "gemma/v1/gemma_service.pb.h"
#include "service/router/draft_policy.h"
#include "service/router/output_stream.h"

namespace gemma {

struct ScheduledRequest {
  std::string request_id;
  std::vector<int32_t> prompt;                           // Expanded token ids.
  std::vector<preprocess::v1::MediaItem> media;
  v1::SamplingParams sampling;                           // Resolved: every field set.
  uint32_t top_logprobs = 0;
  bool logprobs = false;
  std::string tenant;          // Fairness bucket ("" is a tenant too).
  int priority = 0;            // Lower is served first.
  int max_draft_tokens = 0;    // Speculation cap for this request; 0: never draft.
  std::unique_ptr<OutputStream> output;
  // Called on the scheduling thread with every message for the client; the one with a finish
  // reason is the last.
  std::function<void(v1::GenerateResponse)> emit;
  std::atomic<bool> cancelled{false};
  absl::Time arrival = absl::Now();

  // Scheduling state (scheduling thread only).
  uint64_t arrival_order = 0;         // Submission order; kept across preemptions.
  std::vector<uint64_t> prompt_keys;  // Content key of every prompt position.
  uint64_t sequence_id = 0;
  int prefill_target = 0;          // Positions to prefill at this (re)start.
  std::vector<int32_t> generated;  // Every token generated, stop token included.
  int computed = 0;                // Positions whose KV the workers hold.
  int cached = 0;                  // Of the prompt, served from the prefix cache.
  bool on_workers = false;         // The workers got its SequenceStart.
  bool planned = false;            // In the step being built.
  AcceptanceStats acceptance;      // Its speculative steps.
  absl::Time first_scheduled, first_token, last_token;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_SCHEDULED_REQUEST_H_
