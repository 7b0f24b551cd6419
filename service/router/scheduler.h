// Continuous batching for one worker group: which sequences run in the next Step, their KV
// blocks, and what their outputs mean for the clients.
//
// Each iteration (RunOnce): drop cancelled requests; give every running, prefilled sequence one
// decode position; spend what is left of the token budget on prefill chunks (running sequences
// first, then waiting ones in arrival order, each admitted when its prompt's blocks fit); send
// the Step; feed the tokens to each request's OutputStream and emit the deltas; free finished
// sequences (blocks here, state on the workers). Prefix caching comes from the BlockManager:
// content keys are token ids, and a digest of the media at media positions, so a repeated
// system prompt revives its blocks and skips their prefill. When a decode position finds no
// block, the most recently admitted sequence is preempted (its blocks freed, its state released
// on the workers) and later recomputed from its prompt plus what it generated; its client sees
// nothing of it. A Step that fails fails every request in it.
//
// Thread-safety: Submit and Cancel may be called from any thread; RunOnce from one.
#ifndef GEMMA_SERVICE_ROUTER_SCHEDULER_H_
#define GEMMA_SERVICE_ROUTER_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/block_manager.h"
#include "gemma/v1/gemma_service.pb.h"
#include "gemma/worker/v1/worker.pb.h"
#include "service/router/output_stream.h"

namespace gemma {

// Sends a step to every rank of a worker group; returns rank 0's answer.
class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual absl::StatusOr<worker::v1::StepResponse> Step(const worker::v1::StepRequest& request) = 0;
  virtual absl::Status Release(const std::vector<uint64_t>& sequence_ids) = 0;
};

struct SchedulerOptions {
  int max_batch_tokens = 512;  // Prefill + decode positions per step.
  int max_running = 64;        // Sequences holding KV at once.
  int max_context = 4096;      // Prompt plus output positions.
  KvCacheOptions kv;           // Pool sizes (the minimum over ranks after Warmup).
  int sliding_window = 0;
};

// One generation request, from admission to its last message.
struct ScheduledRequest {
  std::string request_id;
  std::vector<int32_t> prompt;                           // Expanded token ids.
  std::vector<preprocess::v1::MediaItem> media;
  v1::SamplingParams sampling;                           // Resolved: every field set.
  uint32_t top_logprobs = 0;
  bool logprobs = false;
  std::unique_ptr<OutputStream> output;
  // Called on the scheduling thread with every message for the client; the one with a finish
  // reason is the last.
  std::function<void(v1::GenerateResponse)> emit;
  std::atomic<bool> cancelled{false};
  absl::Time arrival = absl::Now();

  // Scheduling state (scheduling thread only).
  std::vector<uint64_t> prompt_keys;  // Content key of every prompt position.
  uint64_t sequence_id = 0;
  int prefill_target = 0;          // Positions to prefill at this (re)start.
  std::vector<int32_t> generated;  // Every token generated, stop token included.
  int computed = 0;                // Positions whose KV the workers hold.
  int cached = 0;                  // Of the prompt, served from the prefix cache.
  bool on_workers = false;         // The workers got its SequenceStart.
  absl::Time first_scheduled, first_token;
};

class Scheduler {
 public:
  Scheduler(StepExecutor* executor, SchedulerOptions options);

  // INVALID_ARGUMENT when the prompt cannot fit the context or the KV pools at all.
  absl::Status Submit(std::shared_ptr<ScheduledRequest> request);
  // Runs one step if there is work. Returns false when idle (nothing waiting or running).
  bool RunOnce();

  int num_waiting() const;
  int num_running() const;
  double kv_usage() const;  // Full-attention pool.
  int64_t preemptions() const { return preemptions_.load(); }

 private:
  struct Planned;
  // Ends a request: releases held-back text with `reason`, then Complete. An error's message
  // goes into matched_stop.
  void Finish(ScheduledRequest& request, v1::FinishReason reason, const absl::Status& error);
  // Adds usage, timings and seed to the request's last message, frees it and emits the message.
  void Complete(ScheduledRequest& request, v1::GenerateResponse message);
  void FreeSequence(ScheduledRequest& request);
  bool Preempt(const ScheduledRequest* keep);
  void PruneFinished();   // Drops running entries whose sequence was freed.
  void FlushReleases();   // Tells the workers to forget freed sequences.
  std::vector<uint64_t> Keys(const ScheduledRequest& request, int begin, int end) const;
  std::vector<int32_t> AllTokens(const ScheduledRequest& request) const;

  StepExecutor* const executor_;
  const SchedulerOptions options_;
  BlockManager blocks_;
  uint64_t next_sequence_id_ = 1;
  uint64_t next_step_id_ = 1;
  std::vector<uint64_t> to_release_;

  mutable absl::Mutex mutex_;
  std::deque<std::shared_ptr<ScheduledRequest>> incoming_ ABSL_GUARDED_BY(mutex_);
  std::atomic<int> num_waiting_{0}, num_running_{0};
  std::atomic<int64_t> preemptions_{0};

  std::deque<std::shared_ptr<ScheduledRequest>> waiting_;
  std::vector<std::shared_ptr<ScheduledRequest>> running_;  // In admission order.
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_SCHEDULER_H_
