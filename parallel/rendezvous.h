// Rendezvous of a worker group over gRPC: RendezvousService is the store (served by the
// launcher or the router; in memory, keys never expire within a run); GrpcStore is the client
// side, a gloo::rendezvous::Store that Gloo's full-mesh connection uses directly.
#ifndef GEMMA_PARALLEL_RENDEZVOUS_H_
#define GEMMA_PARALLEL_RENDEZVOUS_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "absl/synchronization/mutex.h"
#include "gemma/worker/v1/rendezvous.grpc.pb.h"

namespace gemma::parallel {

class RendezvousService final : public worker::v1::Rendezvous::Service {
 public:
  grpc::Status Set(grpc::ServerContext* context, const worker::v1::RendezvousSetRequest* request,
                   worker::v1::RendezvousSetResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const worker::v1::RendezvousGetRequest* request,
                   worker::v1::RendezvousGetResponse* response) override;

 private:
  absl::Mutex mutex_;
  absl::CondVar changed_;
  std::map<std::string, std::string> values_ ABSL_GUARDED_BY(mutex_);
};

// Gloo store over RendezvousService at `address` (host:port). Keys are prefixed with
// "<group>/". Failures throw std::runtime_error, as Gloo expects of a store.
class GrpcStore : public gloo::rendezvous::Store {
 public:
  GrpcStore(const std::string& address, std::string group,
            std::chrono::milliseconds timeout = kDefaultTimeout);

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override;

 private:
  std::vector<std::string> Fetch(const std::vector<std::string>& keys,
                                 std::chrono::milliseconds timeout);

  std::unique_ptr<worker::v1::Rendezvous::Stub> stub_;
  const std::string group_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace gemma::parallel

#endif  // GEMMA_PARALLEL_RENDEZVOUS_H_
