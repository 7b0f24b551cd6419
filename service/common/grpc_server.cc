#include "service/common/grpc_server.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <utility>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/status/status.h"
#include "grpc/health/v1/health.pb.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "service/common/log.h"
#include "service/common/tls.h"

namespace gemma {

namespace {

// gRPC creates one interceptor per call once a handler is bound and destroys it when the call
// ends, so live trackers are exactly the calls in flight.
class CallTracker : public grpc::experimental::Interceptor {
 public:
  explicit CallTracker(std::shared_ptr<std::atomic<int>> count) : count_(std::move(count)) {
    count_->fetch_add(1, std::memory_order_acq_rel);
  }
  ~CallTracker() override { count_->fetch_sub(1, std::memory_order_acq_rel); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  const std::shared_ptr<std::atomic<int>> count_;
};

class CallTrackerFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallTrackerFactory(std::shared_ptr<std::atomic<int>> count) : count_(std::move(count)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new CallTracker(count_);
  }

 private:
  const std::shared_ptr<std::atomic<int>> count_;
};

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
  // gRPC's built-in health service is not backed by C++ protobuf descriptors, so reflection could
  // list it but not describe it. Touching the generated descriptor links and registers it, and
  // reflection clients (buf curl, grpcurl) can then call grpc.health.v1.Health by name.
  grpc::health::v1::HealthCheckResponse::descriptor();
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
  auto in_flight = std::make_shared<std::atomic<int>>(0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<CallTrackerFactory>(in_flight));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address()));
  }
  std::unique_ptr<GrpcServer> result(new GrpcServer(options, std::move(services),
                                                    std::move(in_flight), std::move(server), port));
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
                       std::shared_ptr<std::atomic<int>> in_flight,
                       std::unique_ptr<grpc::Server> server, int port)
    : options_(options),
      in_flight_(std::move(in_flight)),
      services_(std::move(services)),
      server_(std::move(server)),
      port_(port) {}

int GrpcServer::in_flight_calls() const { return in_flight_->load(std::memory_order_acquire); }

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
  absl::Notification stopped;
  std::thread stopper([this, &stopped] {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
    stopped.Notify();
  });
  // gRPC's shutdown also waits for clients to hang up. Once nothing is in flight, close the idle
  // connections from here (repeatedly: one may have opened just before admission stopped). The
  // first pause lets the stopper stop admitting calls, so a zero count stays zero.
  absl::SleepFor(absl::Milliseconds(20));
  while (!stopped.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
    if (in_flight_calls() == 0) grpc_server_cancel_all_calls(server_->c_server());
  }
  stopper.join();
  server_->Wait();
  LogInfo("grpc_server", "stopped");
}

}  // namespace gemma
