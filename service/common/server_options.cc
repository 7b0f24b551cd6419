#include "service/common/server_options.h"

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on (0.0.0.0 or :: for all).");
ABSL_FLAG(int, port, -1, "Port to listen on; 0 picks a free port; -1 the service's default.");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file once serving.");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate chain; enables TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it signed (mTLS).");
ABSL_FLAG(int64_t, max_message_bytes, 64 << 20, "Largest request or response message.");
ABSL_FLAG(int64_t, drain_grace_ms, 0,
          "On SIGTERM, report NOT_SERVING but keep accepting work this long.");
ABSL_FLAG(int64_t, drain_timeout_ms, 30000,
          "Then let in-flight calls finish for this long before cancelling them.");

ABSL_FLAG(int, metrics_port, -1, "HTTP port for /metrics (0: any free port, -1: none).");
ABSL_FLAG(std::string, metrics_port_file, "", "Write the bound /metrics port to this file.");

namespace gemma {

std::string ServerOptions::address() const {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::Status ValidateServerOptions(const ServerOptions& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("--host must not be empty");
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be in [0, 65535], got ", options.port));
  }
  if (options.tls.cert.empty() != options.tls.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key must be given together");
  }
  if (!options.tls.client_ca.empty() && options.tls.cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca requires --tls_cert and --tls_key");
  }
  if (options.max_message_bytes < 1024 || options.max_message_bytes > (int64_t{2} << 30) - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_message_bytes must be in [1024, 2^31 - 1], got ", options.max_message_bytes));
  }
  if (options.metrics_port < -1 || options.metrics_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_port must be in [-1, 65535], got ", options.metrics_port));
  }
  if (options.drain_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_grace_ms must not be negative");
  }
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_timeout_ms must not be negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerOptions> ServerOptionsFromFlags(int default_port) {
  ServerOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  int port = absl::GetFlag(FLAGS_port);
  options.port = port == -1 ? default_port : port;
  options.port_file = absl::GetFlag(FLAGS_port_file);
  options.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.drain_grace = absl::Milliseconds(absl::GetFlag(FLAGS_drain_grace_ms));
  options.drain_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_drain_timeout_ms));
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.metrics_port_file = absl::GetFlag(FLAGS_metrics_port_file);
  absl::Status status = ValidateServerOptions(options);
  if (!status.ok()) return status;
  return options;
}

}  // namespace gemma
