#include "client/channel.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50050", "Router address");
ABSL_FLAG(std::string, tls_ca, "", "PEM root certificates: connect with TLS (empty: plaintext)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate chain, for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, api_key, "", "API key (default: $GEMMA_API_KEY)");

namespace gemma {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<ClientChannelOptions> ClientChannelOptionsFromFlags() {
  ClientChannelOptions options;
  options.server = absl::GetFlag(FLAGS_server);
  options.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.api_key = absl::GetFlag(FLAGS_api_key);
  if (options.api_key.empty() && std::getenv("GEMMA_API_KEY") != nullptr) {
    options.api_key = std::getenv("GEMMA_API_KEY");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!options.tls_cert.empty() && options.tls_ca.empty()) {
    return absl::InvalidArgumentError("--tls_cert needs --tls_ca (a client certificate implies TLS)");
  }
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const ClientChannelOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> roots = ReadPem(options.tls_ca);
    if (!roots.ok()) return roots.status();
    ssl.pem_root_certs = *roots;
    if (!options.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadPem(options.tls_cert);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem(options.tls_key);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(64 << 20);
  arguments.SetMaxReceiveMessageSize(64 << 20);
  arguments.SetInt("gemma.client.channel", options.channel_index);
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

void Authorize(const ClientChannelOptions& options, grpc::ClientContext* context) {
  if (!options.api_key.empty()) context->AddMetadata("authorization", "Bearer " + options.api_key);
}

}  // namespace gemma
