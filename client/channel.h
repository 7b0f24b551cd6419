// How the command-line clients reach the router: plaintext or TLS (optionally mutual), and an
// API key sent as `authorization: Bearer <key>` on every call (service/common/api_keys.h).
// Flags shared by gemma_client and gemma_loadgen:
//   --server=HOST:PORT  --tls_ca=ROOTS.pem (enables TLS)  --tls_cert/--tls_key (client identity)
//   --api_key=KEY, or the environment variable GEMMA_API_KEY (keeps the key out of `ps`)
#ifndef GEMMA_CLIENT_CHANNEL_H_
#define GEMMA_CLIENT_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace gemma {

struct ClientChannelOptions {
  std::string server = "127.0.0.1:50050";
  std::string tls_ca;    // PEM roots; empty: plaintext.
  std::string tls_cert;  // PEM client certificate chain (mutual TLS).
  std::string tls_key;
  std::string api_key;   // Empty: none sent.
  int channel_index = 0; // Distinct values get distinct connections.
};

// From the flags above; INVALID_ARGUMENT names a bad combination, NOT_FOUND an unreadable file.
absl::StatusOr<ClientChannelOptions> ClientChannelOptionsFromFlags();

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(const ClientChannelOptions& options);

// Adds the API key (if any) to a call.
void Authorize(const ClientChannelOptions& options, grpc::ClientContext* context);

}  // namespace gemma

#endif  // GEMMA_CLIENT_CHANNEL_H_
