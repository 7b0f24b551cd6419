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

// What the server counts about its calls: those in flight, and (when a registry is given) calls
// handled by method and status code with their handling time.
struct CallStats {
  std::atomic<int> in_flight{0};
  monitoring::CounterFamily* handled = nullptr;
  monitoring::HistogramFamily* seconds = nullptr;
  monitoring::Gauge* in_flight_gauge = nullptr;
};


namespace {

// gRPC creates one interceptor per call once a handler is bound and destroys it when the call
// ends, so live trackers are exactly the calls in flight.
class CallTracker : public grpc::experimental::Interceptor {
 public:
  CallTracker(std::shared_ptr<CallStats> stats, const char* method)
      : stats_(std::move(stats)), method_(method != nullptr ? method : "unknown"),
        start_(absl::Now()) {
    stats_->in_flight.fetch_add(1, std::memory_order_acq_rel);
    if (stats_->in_flight_gauge != nullptr) stats_->in_flight_gauge->Add(1);
  }
  ~CallTracker() override {
    if (stats_->handled != nullptr) {
      stats_->handled->WithLabels({method_, code_})->Increment();
      stats_->seconds->WithLabels({method_})->Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    if (stats_->in_flight_gauge != nullptr) stats_->in_flight_gauge->Add(-1);
    stats_->in_flight.fetch_sub(1, std::memory_order_acq_rel);
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = StatusCodeName(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  static std::string StatusCodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {
        "OK",        "CANCELLED",         "UNKNOWN",         "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",      "UNAVAILABLE",     "DATA_LOSS",
        "UNAUTHENTICATED"};
    const int index = static_cast<int>(code);
    return index >= 0 && index <= 16 ? kNames[index] : "UNKNOWN";
  }

  const std::shared_ptr<CallStats> stats_;
  const std::string method_;
  const absl::Time start_;
  std::string code_ = "CANCELLED";  // Unless a status is sent.
};

class CallTrackerFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallTrackerFactory(std::shared_ptr<CallStats> stats) : stats_(std::move(stats)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallTracker(stats_, info->method());
  }

 private:
  const std::shared_ptr<CallStats> stats_;
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
                                                               bool serving,
                                                               monitoring::Registry* registry) {
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
  auto own_registry = registry == nullptr ? std::make_unique<monitoring::Registry>() : nullptr;
  if (registry == nullptr) registry = own_registry.get();
  auto stats = std::make_shared<CallStats>();
  stats->handled = registry->AddCounter("gemma_grpc_server_handled_total",
                                        "RPCs completed, by method and status code.",
                                        {"grpc_method", "grpc_code"});
  stats->seconds = registry->AddHistogram(
      "gemma_grpc_server_handling_seconds", "Time from a call's start to its end, by method.",
      {"grpc_method"}, monitoring::RequestLatencyBuckets());
  stats->in_flight_gauge =
      registry->AddGauge("gemma_grpc_server_in_flight", "RPCs bound to a handler, not finished.")
          ->WithLabels({});
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<CallTrackerFactory>(stats));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address()));
  }
  std::unique_ptr<GrpcServer> result(new GrpcServer(options, std::move(services),
                                                    std::move(stats), std::move(server), port));
  result->own_registry_ = std::move(own_registry);
  result->registry_ = registry;
  if (options.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<monitoring::MetricsHttpServer>> metrics =
        monitoring::MetricsHttpServer::Start(options.host, options.metrics_port, registry);
    if (!metrics.ok()) return metrics.status();
    result->metrics_ = std::move(*metrics);
    LogInfo("grpc_server", "metrics on http://%s:%d/metrics", options.host,
            result->metrics_->port());
    if (!options.metrics_port_file.empty()) {
      absl::Status written = WritePortFile(options.metrics_port_file, result->metrics_->port());
      if (!written.ok()) return written;
    }
  }
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
                       std::shared_ptr<CallStats> stats,
                       std::unique_ptr<grpc::Server> server, int port)
    : options_(options),
      stats_(std::move(stats)),
      services_(std::move(services)),
      server_(std::move(server)),
      port_(port) {}

int GrpcServer::in_flight_calls() const {
  return stats_->in_flight.load(std::memory_order_acquire);
}

int GrpcServer::metrics_port() const { return metrics_ != nullptr ? metrics_->port() : -1; }

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
