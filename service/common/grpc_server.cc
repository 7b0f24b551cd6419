#include "service/common/grpc_server.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/common/log.h"
#include "service/common/tls.h"

namespace gemma {
namespace {

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const ServerOptions& options,
                                                               std::vector<ServiceEntry> services,
                                                               bool serving) {
  absl::Status valid = ValidateServerOptions(options);
  if (!valid.ok()) return valid;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address(), *credentials, &port);
  // Without this, gRPC binds with SO_REUSEPORT and a second server on a taken port would
  // silently share its traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  for (const ServiceEntry& entry : services) builder.RegisterService(entry.service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address()));
  }
  std::unique_ptr<GrpcServer> result(
      new GrpcServer(options, std::move(services), std::move(server), port));
  result->SetServing(serving);
  if (!options.port_file.empty()) {
    absl::Status written = WritePortFile(options.port_file, port);
    if (!written.ok()) return written;
  }
  LogInfo("grpc_server", "listening on %s (%s)", result->address(),
          options.tls.enabled() ? (options.tls.client_ca.empty() ? "TLS" : "mutual TLS")
                                : "plaintext");
  return result;
}

GrpcServer::GrpcServer(const ServerOptions& options, std::vector<ServiceEntry> services,
                       std::unique_ptr<grpc::Server> server, int port)
    : options_(options), services_(std::move(services)), server_(std::move(server)), port_(port) {}

GrpcServer::~GrpcServer() { Shutdown(); }

std::string GrpcServer::address() const {
  ServerOptions bound = options_;
  bound.port = port_;
  return bound.address();
}

void GrpcServer::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);  // The whole server ("") and every named service.
  for (const ServiceEntry& entry : services_) health->SetServingStatus(entry.name, serving);
}

void GrpcServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  LogInfo("grpc_server", "draining: NOT_SERVING, grace %s, in-flight timeout %s",
          absl::FormatDuration(options_.drain_grace), absl::FormatDuration(options_.drain_timeout));
  // Sets every service NOT_SERVING and freezes it there.
  server_->GetHealthCheckService()->Shutdown();
  if (options_.drain_grace > absl::ZeroDuration()) absl::SleepFor(options_.drain_grace);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
  server_->Wait();
  LogInfo("grpc_server", "stopped");
}

}  // namespace gemma
