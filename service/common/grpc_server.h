// The gRPC server every service runs on: listener and TLS from ServerOptions, the standard
// grpc.health.v1 service, server reflection, and a graceful, bounded shutdown.
//
// Shutdown(): (1) health reports NOT_SERVING for every service, (2) new calls are still accepted
// for options.drain_grace, (3) the listener stops and in-flight calls get options.drain_timeout to
// finish, (4) calls still running are cancelled (handlers see ServerContext::IsCancelled()).
// New calls after step 3 fail with UNAVAILABLE. Once no call is in flight, idle client connections
// are closed from the server side, so shutdown does not wait for clients that keep connections
// open (gRPC alone would hold on until the drain timeout). Thread-safe; Shutdown() is idempotent.
#ifndef GEMMA_SERVICE_COMMON_GRPC_SERVER_H_
#define GEMMA_SERVICE_COMMON_GRPC_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "monitoring/metrics.h"
#include "monitoring/metrics_http_server.h"
#include "service/common/server_options.h"

namespace gemma {

// A service implementation and its full proto name (the generated `Xxx::service_full_name()`),
// the name health checks use.
struct ServiceEntry {
  grpc::Service* service;  // Not owned; must outlive the server.
  std::string name;
};

struct CallStats;

class GrpcServer {
 public:
  // Binds, starts and returns the server. `serving` is the initial health status of every
  // service and of the whole server ("" in grpc.health.v1); workers start NOT_SERVING and switch
  // after loading their model. RPC metrics (gemma_grpc_server_*) go to `registry` (or one the
  // server owns), served at /metrics when options.metrics_port >= 0. UNAVAILABLE when an address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const ServerOptions& options,
                                                           std::vector<ServiceEntry> services,
                                                           bool serving = true,
                                                           monitoring::Registry* registry = nullptr);
  ~GrpcServer();  // Shutdown() if it has not run.

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  int in_flight_calls() const;  // Calls bound to a handler and not yet finished.
  int metrics_port() const;     // -1 when /metrics is not served.
  monitoring::Registry* registry() const { return registry_; }
  std::string address() const;  // host:port actually bound.

  // Sets the health status of every service and the server. Ignored once Shutdown() began.
  void SetServing(bool serving);
  void Shutdown();

 private:
  GrpcServer(const ServerOptions& options, std::vector<ServiceEntry> services,
             std::shared_ptr<CallStats> stats, std::unique_ptr<grpc::Server> server, int port);

  const ServerOptions options_;
  const std::shared_ptr<CallStats> stats_;
  std::unique_ptr<monitoring::Registry> own_registry_;  // When the caller gave none.
  monitoring::Registry* registry_ = nullptr;
  const std::vector<ServiceEntry> services_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  std::unique_ptr<monitoring::MetricsHttpServer> metrics_;  // Stops before the registry goes.

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_GRPC_SERVER_H_
