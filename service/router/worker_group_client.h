// The router's side of a worker group: every call goes to every rank at once (the ranks run in
// lockstep) and succeeds only when every rank succeeds; rank 0's Step answer carries the tokens.
// Recover (after a failed step) waits for every rank to answer, warms up again the ranks that
// restarted (with the first Warmup's request; a restarted group must come back on the same
// addresses, as Kubernetes Services and the launcher's --first_port give), clears every rank's
// sequences and checks the group's collectives with a deep Health call.
#ifndef GEMMA_SERVICE_ROUTER_WORKER_GROUP_CLIENT_H_
#define GEMMA_SERVICE_ROUTER_WORKER_GROUP_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "gemma/worker/v1/worker.grpc.pb.h"
#include "service/router/scheduler.h"

namespace gemma {

class WorkerGroupClient : public StepExecutor {
 public:
  // `addresses`: host:port of rank 0, 1, ... in order.
  explicit WorkerGroupClient(const std::vector<std::string>& addresses);

  // Warms every rank up; returns the pools every rank can hold (the minimum).
  absl::StatusOr<worker::v1::KvCacheGeometry> Warmup(const worker::v1::WarmupRequest& request);
  absl::StatusOr<worker::v1::InfoResponse> Info();
  absl::StatusOr<worker::v1::StepResponse> Step(const worker::v1::StepRequest& request) override;
  absl::Status Release(const std::vector<uint64_t>& sequence_ids) override;
  absl::StatusOr<worker::v1::KvCacheGeometry> Recover() override;
  int world_size() const { return static_cast<int>(stubs_.size()); }

 private:
  // Runs `call(rank, stub)` on every rank in parallel; the first failure (by rank) wins and
  // names the rank.
  template <typename Call>
  absl::Status OnEveryRank(Call call);

  std::vector<std::unique_ptr<worker::v1::Worker::Stub>> stubs_;
  worker::v1::WarmupRequest warmup_;  // The first Warmup's, for ranks that restart.
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_WORKER_GROUP_CLIENT_H_
