// Serves a Registry's exposition at GET /metrics over HTTP/1.1 (cpp-httplib from Debian), on its
// own thread. Every service runs one, on the port given by its --metrics_port flag.
#ifndef GEMMA_MONITORING_METRICS_HTTP_SERVER_H_
#define GEMMA_MONITORING_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "monitoring/metrics.h"

namespace httplib {
class Server;
}

namespace gemma::monitoring {

class MetricsHttpServer {
 public:
  // Binds host:port (0: a free port) and starts serving. UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host,
                                                                   int port,
                                                                   const Registry* registry);
  ~MetricsHttpServer();  // Stops.

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace gemma::monitoring

#endif  // GEMMA_MONITORING_METRICS_HTTP_SERVER_H_
