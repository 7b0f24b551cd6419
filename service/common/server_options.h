// Listener, TLS, message-size and drain settings shared by every gRPC server (router, preprocess,
// worker). Filled from command-line flags by ServerOptionsFromFlags(); validated once at startup.
#ifndef GEMMA_SERVICE_COMMON_SERVER_OPTIONS_H_
#define GEMMA_SERVICE_COMMON_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gemma {

// PEM file paths. All empty: plaintext. cert + key: TLS. cert + key + client_ca: mutual TLS, every
// client must present a certificate signed by client_ca.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;

  bool enabled() const { return !cert.empty(); }
};

struct ServerOptions {
  // Address to bind. Default 127.0.0.1: reachable only from this host; pods set 0.0.0.0.
  std::string host = "127.0.0.1";
  // Port to bind; 0 picks a free one (see port_file).
  int port = 0;
  // When non-empty, the bound port is written here (atomically) once the server is up, so
  // launchers and tests can use port 0 without races.
  std::string port_file;
  TlsFiles tls;
  // Largest request and response message. Media requests carry encoded images and audio.
  int64_t max_message_bytes = 64 << 20;
  // After SIGTERM: report NOT_SERVING yet keep accepting work for this long, so load balancers
  // and Kubernetes endpoints stop routing here first.
  absl::Duration drain_grace = absl::ZeroDuration();
  // Then stop accepting and give in-flight calls this long to finish before cancelling them.
  absl::Duration drain_timeout = absl::Seconds(30);

  // Port of the HTTP /metrics endpoint on `host`; 0 picks a free one; -1 serves none.
  int metrics_port = -1;
  std::string metrics_port_file;  // Where to write the bound /metrics port (launchers, tests).

  std::string address() const;  // "host:port", IPv6 hosts bracketed.
};

// Reads --host, --port, --port_file, --tls_cert, --tls_key, --tls_client_ca, --max_message_bytes,
// --drain_grace_ms, --drain_timeout_ms, --metrics_port and --metrics_port_file. `default_port` applies when --port is not given.
// INVALID_ARGUMENT names the offending flag.
absl::StatusOr<ServerOptions> ServerOptionsFromFlags(int default_port);

// Checks ranges and combinations (e.g. a TLS key without a certificate).
absl::Status ValidateServerOptions(const ServerOptions& options);

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_SERVER_OPTIONS_H_
