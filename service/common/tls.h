// gRPC credentials from PEM files, for servers and for the clients between our services.
#ifndef GEMMA_SERVICE_COMMON_TLS_H_
#define GEMMA_SERVICE_COMMON_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "service/common/server_options.h"

namespace gemma {

// Insecure credentials when `files` is not enabled; otherwise TLS, and mutual TLS (client
// certificate required and verified) when files.client_ca is set. NOT_FOUND/INVALID_ARGUMENT name
// the unreadable or empty file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

// What a client of our services presents. All empty: plaintext.
struct ClientTlsFiles {
  std::string ca;    // PEM roots to verify the server; empty with cert set: system roots.
  std::string cert;  // PEM client certificate chain, for mTLS.
  std::string key;   // PEM key for `cert`.
  bool enabled() const { return !ca.empty() || !cert.empty(); }
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsFiles& files);

// Reads a whole file; NOT_FOUND names it.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace gemma

#endif  // GEMMA_SERVICE_COMMON_TLS_H_
