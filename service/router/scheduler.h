// Continuous batching for one worker group: which sequences run in the next Step, their KV
// blocks, their draft lengths, and what their outputs mean for the clients.
//
// Each iteration (RunOnce): drop cancelled requests; if a waiting request of better priority is
// blocked (no sequence slot or KV room), preempt running ones of worse priority; give every
// running, prefilled sequence one decode position plus the draft length the DraftPolicy picks;
// spend what is left of the token budget on prefill chunks (running sequences first, then
// admissions in WaitingQueue order, each admitted when its prompt's blocks fit); send the Step;
// commit accepted tokens (rejected drafts' blocks are truncated away), feed them to each
// request's OutputStream and emit the deltas; free finished sequences (blocks here, state on the
// workers).
//
// Prefix caching comes from the BlockManager: content keys are token ids, and a digest of the
// media at media positions, so a repeated system prompt revives its blocks and skips their
// prefill. When a decode position finds no block, the running sequence of worst priority (the
// most recently admitted among equals) is preempted - its blocks freed, its state released on
// the workers - and later recomputed from its prompt plus what it generated; its client sees
// nothing of it.
//
// A Step that fails means the worker group is in an unknown state: every request in the system
// fails (FINISH_REASON_ERROR with the step's status; the API maps it to UNAVAILABLE), Submit
// answers UNAVAILABLE, and RunOnce calls StepExecutor::Recover every recovery_interval until the
// group is back (clean, warmed up); then the scheduler starts over with empty KV pools.
//
// Thread-safety: Submit, Cancel and the accessors may be called from any thread; RunOnce from
// one.
#ifndef GEMMA_SERVICE_ROUTER_SCHEDULER_H_
#define GEMMA_SERVICE_ROUTER_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/block_manager.h"
#include "gemma/worker/v1/worker.pb.h"
#include "service/router/draft_policy.h"
#include "service/router/scheduled_request.h"
#include "service/router/router_metrics.h"
#include "service/router/waiting_queue.h"

namespace gemma {

// Sends calls to every rank of a worker group; Step returns rank 0's answer.
class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  virtual absl::StatusOr<worker::v1::StepResponse> Step(const worker::v1::StepRequest& request) = 0;
  virtual absl::Status Release(const std::vector<uint64_t>& sequence_ids) = 0;
  // After a failed step: brings every rank to a clean state (no sequences, warmed up as before)
  // and returns the KV pools they hold; an error while any rank is still missing.
  virtual absl::StatusOr<worker::v1::KvCacheGeometry> Recover() = 0;
};

struct SchedulerOptions {
  int max_batch_tokens = 512;  // Prefill + decode + draft positions per step.
  int max_running = 64;        // Sequences holding KV at once.
  int max_waiting = 1024;      // Queued requests before Submit refuses (RESOURCE_EXHAUSTED).
  int max_context = 4096;      // Prompt plus output positions.
  KvCacheOptions kv;           // Pool sizes (the minimum over ranks after Warmup).
  int sliding_window = 0;
  DraftPolicyOptions speculation;  // max_draft_tokens 0: the group has no drafter.
  absl::Duration recovery_interval = absl::Seconds(1);
};

class Scheduler {
 public:
  // `metrics` may be null; else it must outlive the scheduler.
  Scheduler(StepExecutor* executor, SchedulerOptions options, RouterMetrics* metrics = nullptr);

  // INVALID_ARGUMENT when the prompt cannot fit the context, RESOURCE_EXHAUSTED when it cannot
  // fit the KV pools at all or max_waiting requests wait already (IsQueueFull tells which),
  // UNAVAILABLE while the worker group is down.
  absl::Status Submit(std::shared_ptr<ScheduledRequest> request);
  static bool IsQueueFull(const absl::Status& status);
  // Runs one step if there is work. Returns false when idle (nothing waiting or running, or the
  // group is down).
  bool RunOnce();

  int num_waiting() const { return num_waiting_.load(); }
  int max_waiting() const { return options_.max_waiting; }
  int num_running() const { return num_running_.load(); }
  double kv_usage() const;  // Full-attention pool.
  int64_t preemptions() const { return preemptions_.load(); }
  bool available() const { return available_.load(); }
  // Scheduling thread only.
  const DraftPolicy& draft_policy() const { return policy_; }

 private:
  struct Planned;
  // Ends a request: releases held-back text with `reason`, then Complete. An error's message
  // goes into matched_stop.
  void Finish(ScheduledRequest& request, v1::FinishReason reason, const absl::Status& error);
  // Adds usage, timings and seed to the request's last message, frees it and emits the message.
  void Complete(ScheduledRequest& request, v1::GenerateResponse message);
  void FreeSequence(ScheduledRequest& request);
  // The running sequence to preempt for `keep`: worst priority, latest admitted, not planned in
  // this step; `keep` itself when every other candidate has a better priority. Null: none.
  ScheduledRequest* Victim(ScheduledRequest* keep) const;
  void Preempt(ScheduledRequest* victim);
  void PreemptForPriority();
  void DropCancelled();
  void PlanDecodes(std::vector<Planned>* plan, worker::v1::StepRequest* step, int* budget);
  bool PlanChunk(const std::shared_ptr<ScheduledRequest>& request, std::vector<Planned>* plan,
                 worker::v1::StepRequest* step, int* budget);
  void Admit(std::vector<Planned>* plan, worker::v1::StepRequest* step, int* budget);
  // Commits a step's outcome (accepted tokens, KV) and emits every request's messages.
  void Apply(const std::vector<Planned>& plan, const worker::v1::StepResponse& response);
  void EmitOutput(ScheduledRequest& request, const worker::v1::SequenceOutput& output);
  // The group failed: every request fails with `status`; recovery starts.
  void FailGroup(const absl::Status& status);
  void TryRecover();
  void PruneFinished();   // Drops running entries whose sequence was freed.
  void FlushReleases();   // Tells the workers to forget freed sequences.
  void UpdateGauges();
  std::vector<uint64_t> Keys(const ScheduledRequest& request, int begin, int end) const;
  std::vector<int32_t> AllTokens(const ScheduledRequest& request) const;

  StepExecutor* const executor_;
  SchedulerOptions options_;  // kv changes on recovery (scheduling thread).
  RouterMetrics* const metrics_;
  std::unique_ptr<BlockManager> blocks_;
  DraftPolicy policy_;
  uint64_t next_sequence_id_ = 1;
  uint64_t next_step_id_ = 1;
  std::vector<uint64_t> to_release_;
  absl::Time next_recovery_;
  std::atomic<int> num_full_blocks_;  // options_.kv's, for Submit.

  mutable absl::Mutex mutex_;
  std::deque<std::shared_ptr<ScheduledRequest>> incoming_ ABSL_GUARDED_BY(mutex_);
  std::atomic<int> num_waiting_{0}, num_running_{0};
  std::atomic<int64_t> preemptions_{0};
  std::atomic<double> kv_usage_{0};
  std::atomic<bool> available_{true};

  WaitingQueue waiting_;
  std::vector<std::shared_ptr<ScheduledRequest>> running_;  // In admission order.
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_SCHEDULER_H_
