// gemma.worker.v1.Worker: one tensor-parallel rank of a worker group (proto/gemma/worker/v1/
// worker.proto has the contract). Every rank receives the same calls; collectives inside the
// model keep them in lockstep.
//
// A Step runs (1) one target pass over its prefill chunks, sampling the first output token
// where asked, then (2) one speculative step over its decode items (k = 0: plain decode; k > 0
// drafts with the MTP drafter, sharded like its target). Every rank samples the same tokens (the
// logits are all-gathered and the sampler is seeded per sequence and output index); rank 0
// reports them. Steps, Warmup and Health are serialized: a communicator serves one caller.
// Before its first collective a step checks that every rank runs the same step_id
// (FAILED_PRECONDITION otherwise); a peer that died turns into UNAVAILABLE within the
// communicator's timeout.
#ifndef GEMMA_SERVICE_WORKER_WORKER_SERVICE_H_
#define GEMMA_SERVICE_WORKER_WORKER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"
#include "engine/sampler.h"
#include "gemma/worker/v1/worker.grpc.pb.h"
#include "monitoring/metrics.h"

namespace gemma {

// Metrics (label rank on every series; docs/metrics.md):
//   gemma_worker_step_seconds{rank, kind}          histogram; kind prefill|decode|speculative|mixed
//   gemma_worker_step_sequences{rank}              histogram of sequences per step
//   gemma_worker_step_tokens{rank}                 histogram of tokens per step (drafts included)
//   gemma_worker_communication_seconds_total{rank} time in collectives
//   gemma_worker_draft_tokens_total{rank}, gemma_worker_accepted_tokens_total{rank}
//   gemma_worker_sequences{rank}                   gauge: sequences held
//   gemma_worker_kv_cache_blocks{rank, pool}       gauge: pool sizes (usage is the router's)
struct WorkerOptions {
  std::string model_name;
  std::string drafter_name;
  int64_t kv_cache_bytes = int64_t{256} << 20;  // When Warmup names no pool sizes.
  int block_size = 16;
  std::function<void(bool)> set_serving;  // Called with true after Warmup.
};

class WorkerService final : public worker::v1::Worker::Service {
 public:
  // `backend` (the model, its drafter and its KV cache on some device) and `registry` must
  // outlive the service; the service owns the backend's calls (one at a time, under its lock).
  WorkerService(ModelBackend& backend, WorkerOptions options, monitoring::Registry* registry);

  grpc::Status Info(grpc::ServerContext*, const worker::v1::InfoRequest*,
                    worker::v1::InfoResponse* response) override;
  grpc::Status Warmup(grpc::ServerContext*, const worker::v1::WarmupRequest* request,
                      worker::v1::WarmupResponse* response) override;
  grpc::Status Step(grpc::ServerContext*, const worker::v1::StepRequest* request,
                    worker::v1::StepResponse* response) override;
  grpc::Status Release(grpc::ServerContext*, const worker::v1::ReleaseRequest* request,
                       worker::v1::ReleaseResponse* response) override;
  grpc::Status ClearCache(grpc::ServerContext*, const worker::v1::ClearCacheRequest*,
                          worker::v1::ClearCacheResponse* response) override;
  grpc::Status Health(grpc::ServerContext*, const worker::v1::HealthRequest*,
                      worker::v1::HealthResponse* response) override;

  int num_sequences() const;

 private:
  // Everything kept about a sequence between steps.
  struct Sequence {
    std::vector<int32_t> tokens;  // SequenceStart.token_ids.
    std::vector<std::vector<float>> media_features;
    std::vector<MediaSpan> media;  // Absolute positions.
    SamplingParams sampling;
    PenaltyState penalties;
    uint64_t output_index = 0;  // Tokens generated so far.
    BlockTables blocks;
    std::vector<float> hidden;  // Target hidden state behind the next token.
  };

  absl::Status RunStep(const worker::v1::StepRequest& request, worker::v1::StepResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status CheckSameStep(uint64_t step_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<std::unique_ptr<Sequence>> StartSequence(const worker::v1::SequenceStart& start);
  worker::v1::KvCacheGeometry Geometry() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  ModelBackend& backend_;  // Its cache and steps only under mutex_; its config is immutable.
  const WorkerOptions options_;
  parallel::Communicator* const communicator_;  // Null without tensor parallelism.

  void Observe(const worker::v1::StepRequest& request, const worker::v1::StepResponse& response);
  // Sequences held and the KV blocks their tables reference, per pool.
  void UpdateHeld() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string rank_label_;
  monitoring::HistogramFamily* step_seconds_;
  monitoring::Histogram* step_sequences_;
  monitoring::Histogram* step_tokens_;
  monitoring::Counter* communication_seconds_;
  monitoring::Counter* draft_tokens_;
  monitoring::Counter* accepted_tokens_;
  monitoring::Gauge* sequences_gauge_;
  monitoring::GaugeFamily* kv_blocks_;
  monitoring::GaugeFamily* kv_blocks_used_;

  mutable absl::Mutex mutex_;
  KvCacheOptions cache_options_ ABSL_GUARDED_BY(mutex_);
  std::map<uint64_t, std::unique_ptr<Sequence>> sequences_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_WORKER_WORKER_SERVICE_H_
