// Communicator over Gloo's TCP transport (Debian libgloo). Ranks rendezvous through a store
// (rendezvous.h over gRPC, or a shared directory): each announces itself, waits (bounded) for all the others, and then connects a full
// mesh. Errors: UNAVAILABLE naming a rank that did not join in time or a collective that failed
// (a peer died, a timeout), INVALID_ARGUMENT for a bad rank or size.
#ifndef GEMMA_PARALLEL_GLOO_COMMUNICATOR_H_
#define GEMMA_PARALLEL_GLOO_COMMUNICATOR_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "parallel/communicator.h"

namespace gloo {
class Context;
}

namespace gemma::parallel {

struct GlooOptions {
  int rank = 0;
  int world_size = 1;
  // Where ranks meet: a RendezvousService at store_address (host:port; "group" namespaces the
  // keys), else a directory every rank can read and write (same machine only).
  std::string store_address;
  std::string group = "default";
  std::string store_dir;
  std::string hostname = "127.0.0.1";  // Address this rank listens on for its peers.
  std::chrono::milliseconds timeout{30000};  // Rendezvous and every collective.
};

class GlooCommunicator : public Communicator {
 public:
  static absl::StatusOr<std::unique_ptr<GlooCommunicator>> Connect(const GlooOptions& options);
  ~GlooCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  absl::Status AllReduceSum(float* data, size_t count) override;
  absl::Status AllGather(const float* input, size_t count, float* output) override;
  absl::Status Broadcast(float* data, size_t count, int root) override;
  absl::Status Barrier() override;

 private:
  GlooCommunicator(int rank, int world_size, std::chrono::milliseconds timeout,
                   std::shared_ptr<gloo::Context> context);

  const int rank_;
  const int world_size_;
  const std::chrono::milliseconds timeout_;
  std::shared_ptr<gloo::Context> context_;
};

}  // namespace gemma::parallel

#endif  // GEMMA_PARALLEL_GLOO_COMMUNICATOR_H_
