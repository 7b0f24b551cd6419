#include "service/common/grpc_server.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "service/common/testing/slow.grpc.pb.h"
#include "service/common/tls.h"

namespace gemma {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

constexpr char kTls[] = "tests/testdata/tls/";

// Sleeps as asked, polling for cancellation so a drain timeout can cut it short.
class SlowService final : public gemma::testing::Slow::Service {
 public:
  grpc::Status Sleep(grpc::ServerContext* context, const gemma::testing::SleepRequest* request,
                     gemma::testing::SleepResponse* response) override {
    absl::Time end = absl::Now() + absl::Milliseconds(request->millis());
    while (absl::Now() < end) {
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      absl::SleepFor(absl::Milliseconds(5));
    }
    response->set_slept_millis(request->millis());
    return grpc::Status::OK;
  }
};

class GrpcServerTest : public ::testing::Test {
 protected:
  ServerOptions Options() {
    ServerOptions options;
    options.port = 0;
    return options;
  }

  std::unique_ptr<GrpcServer> StartOrDie(const ServerOptions& options, bool serving = true) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
        options, {{&slow_, gemma::testing::Slow::service_full_name()}}, serving);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static std::shared_ptr<grpc::Channel> Connect(
      const GrpcServer& server,
      std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials()) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(server.address(), credentials, args);
  }

  static grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    HealthCheckRequest request;
    request.set_service(service);
    return Health::NewStub(channel)->Check(&context, request, response);
  }

  static HealthCheckResponse::ServingStatus StatusOf(const std::shared_ptr<grpc::Channel>& channel,
                                                     const std::string& service = "") {
    HealthCheckResponse response;
    grpc::Status status = Check(channel, service, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  static grpc::Status Sleep(const std::shared_ptr<grpc::Channel>& channel, int millis) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    gemma::testing::SleepRequest request;
    request.set_millis(millis);
    gemma::testing::SleepResponse response;
    return gemma::testing::Slow::NewStub(channel)->Sleep(&context, request, &response);
  }

  // Waits (up to 5 s) until exactly `count` calls are in flight; returns whether that happened.
  static bool WaitForInFlight(const GrpcServer& server, int count) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (server.in_flight_calls() != count && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    return server.in_flight_calls() == count;
  }

  SlowService slow_;
};

TEST_F(GrpcServerTest, HealthIsServingForServerAndEachService) {
  std::unique_ptr<GrpcServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  auto channel = Connect(*server);
  EXPECT_EQ(StatusOf(channel), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf(channel, "gemma.testing.Slow"), HealthCheckResponse::SERVING);
  EXPECT_TRUE(Sleep(channel, 1).ok());
}

TEST_F(GrpcServerTest, UnknownServiceIsNotFound) {
  std::unique_ptr<GrpcServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  HealthCheckResponse response;
  EXPECT_EQ(Check(Connect(*server), "no.such.Service", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GrpcServerTest, CanStartNotServingAndSwitch) {
  std::unique_ptr<GrpcServer> server = StartOrDie(Options(), /*serving=*/false);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(*server);
  EXPECT_EQ(StatusOf(channel), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(StatusOf(channel, "gemma.testing.Slow"), HealthCheckResponse::NOT_SERVING);
  server->SetServing(true);
  EXPECT_EQ(StatusOf(channel), HealthCheckResponse::SERVING);
  EXPECT_EQ(StatusOf(channel, "gemma.testing.Slow"), HealthCheckResponse::SERVING);
}

TEST_F(GrpcServerTest, WritesBoundPortToPortFile) {
  ServerOptions options = Options();
  options.port_file = std::string(getenv("TEST_TMPDIR")) + "/port";
  std::unique_ptr<GrpcServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  std::ifstream in(options.port_file);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, server->port());
}

TEST_F(GrpcServerTest, PortInUseIsUnavailable) {
  std::unique_ptr<GrpcServer> first = StartOrDie(Options());
  ASSERT_NE(first, nullptr);
  ServerOptions options = Options();
  options.port = first->port();
  absl::StatusOr<std::unique_ptr<GrpcServer>> second = GrpcServer::Start(options, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(std::to_string(first->port())));
}

TEST_F(GrpcServerTest, InvalidOptionsAreRejectedBeforeBinding) {
  ServerOptions options = Options();
  options.tls.cert = "server.pem";
  EXPECT_EQ(GrpcServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GrpcServerTest, ShutdownLetsInFlightCallsFinish) {
  ServerOptions options = Options();
  options.drain_timeout = absl::Seconds(20);
  std::unique_ptr<GrpcServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(*server);
  grpc::Status in_flight;
  std::thread call([&] { in_flight = Sleep(channel, 400); });
  ASSERT_TRUE(WaitForInFlight(*server, 1));
  server->Shutdown();
  call.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(Sleep(channel, 1).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcServerTest, ShutdownCancelsCallsPastTheDrainTimeout) {
  ServerOptions options = Options();
  options.drain_timeout = absl::Milliseconds(200);
  std::unique_ptr<GrpcServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(*server);
  grpc::Status in_flight;
  std::thread call([&] { in_flight = Sleep(channel, 20000); });
  ASSERT_TRUE(WaitForInFlight(*server, 1));
  absl::Time start = absl::Now();
  server->Shutdown();
  call.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(in_flight.ok());
}

TEST_F(GrpcServerTest, ExportsRpcMetricsOverHttp) {
  ServerOptions options = Options();
  options.metrics_port = 0;
  monitoring::Registry registry;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      options, {{&slow_, gemma::testing::Slow::service_full_name()}}, true, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->metrics_port(), 0);
  auto channel = Connect(**server);
  ASSERT_TRUE(Sleep(channel, 1).ok());
  ASSERT_TRUE(Sleep(channel, 1).ok());
  HealthCheckResponse response;
  EXPECT_EQ(Check(channel, "no.such.Service", &response).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(WaitForInFlight(**server, 0));
  httplib::Client http("127.0.0.1", (*server)->metrics_port());
  auto page = http.Get("/metrics");
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("gemma_grpc_server_handled_total{grpc_method=\"/gemma.testing."
                                    "Slow/Sleep\",grpc_code=\"OK\"} 2\n"));
  EXPECT_THAT(page->body, HasSubstr("grpc_method=\"/grpc.health.v1.Health/Check\",grpc_code=\""
                                    "NOT_FOUND\"} 1\n"));
  EXPECT_THAT(page->body, HasSubstr("gemma_grpc_server_handling_seconds_count{grpc_method=\"/gemma."
                                    "testing.Slow/Sleep\"} 2\n"));
  EXPECT_THAT(page->body, HasSubstr("gemma_grpc_server_in_flight 0\n"));
}

TEST_F(GrpcServerTest, CountsCallsInFlight) {
  std::unique_ptr<GrpcServer> server = StartOrDie(Options());
  ASSERT_NE(server, nullptr);
  auto channel = Connect(*server);
  EXPECT_EQ(server->in_flight_calls(), 0);
  std::thread call([&] { EXPECT_TRUE(Sleep(channel, 300).ok()); });
  EXPECT_TRUE(WaitForInFlight(*server, 1));
  call.join();
  EXPECT_TRUE(WaitForInFlight(*server, 0));
}

// A client that keeps an idle HTTP/2 connection open must not hold shutdown until the drain
// timeout: only calls in flight may.
TEST_F(GrpcServerTest, IdleConnectionsDoNotDelayShutdown) {
  ServerOptions options = Options();
  options.drain_timeout = absl::Seconds(20);
  std::unique_ptr<GrpcServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(server->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  // HTTP/2 client preface plus an empty SETTINGS frame, then silence.
  const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
  ASSERT_EQ(write(fd, preface, sizeof(preface) - 1), static_cast<ssize_t>(sizeof(preface) - 1));
  absl::SleepFor(absl::Milliseconds(100));
  absl::Time start = absl::Now();
  server->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  close(fd);
}

TEST_F(GrpcServerTest, DrainGraceReportsNotServingWhileStillAcceptingCalls) {
  ServerOptions options = Options();
  options.drain_grace = absl::Milliseconds(1500);
  std::unique_ptr<GrpcServer> server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  auto channel = Connect(*server);
  std::thread shutdown([&] { server->Shutdown(); });
  absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (StatusOf(channel) != HealthCheckResponse::NOT_SERVING && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(StatusOf(channel), HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(Sleep(channel, 1).ok());  // Still inside the grace period.
  server->SetServing(true);             // Ignored once draining.
  EXPECT_EQ(StatusOf(channel), HealthCheckResponse::NOT_SERVING);
  shutdown.join();
  EXPECT_EQ(Sleep(channel, 1).error_code(), grpc::StatusCode::UNAVAILABLE);
}

class GrpcServerTlsTest : public GrpcServerTest {
 protected:
  ServerOptions TlsOptions(bool mutual) {
    ServerOptions options = Options();
    options.tls.cert = std::string(kTls) + "server.pem";
    options.tls.key = std::string(kTls) + "server.key";
    if (mutual) options.tls.client_ca = std::string(kTls) + "ca.pem";
    return options;
  }

  static std::shared_ptr<grpc::ChannelCredentials> Client(const std::string& cert_name) {
    ClientTlsFiles files;
    files.ca = std::string(kTls) + "ca.pem";
    if (!cert_name.empty()) {
      files.cert = std::string(kTls) + cert_name + ".pem";
      files.key = std::string(kTls) + cert_name + ".key";
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        MakeChannelCredentials(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return *credentials;
  }
};

TEST_F(GrpcServerTlsTest, TlsServesClientsThatTrustItsCa) {
  std::unique_ptr<GrpcServer> server = StartOrDie(TlsOptions(/*mutual=*/false));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(StatusOf(Connect(*server, Client(""))), HealthCheckResponse::SERVING);
  HealthCheckResponse response;
  EXPECT_EQ(Check(Connect(*server), "", &response).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a plaintext client must not get through";
}

TEST_F(GrpcServerTlsTest, MutualTlsRequiresACertificateFromTheClientCa) {
  std::unique_ptr<GrpcServer> server = StartOrDie(TlsOptions(/*mutual=*/true));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(StatusOf(Connect(*server, Client("client"))), HealthCheckResponse::SERVING);
  HealthCheckResponse response;
  EXPECT_EQ(Check(Connect(*server, Client("")), "", &response).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a client without a certificate must be refused";
  EXPECT_EQ(Check(Connect(*server, Client("rogue_client")), "", &response).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate from another CA must be refused";
}

TEST_F(GrpcServerTlsTest, MissingCertificateFileIsNamed) {
  ServerOptions options = TlsOptions(/*mutual=*/false);
  options.tls.cert = "/nonexistent/server.pem";
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(server.status().message(), HasSubstr("/nonexistent/server.pem"));
}

TEST_F(GrpcServerTlsTest, NonPemKeyIsRejected) {
  ServerOptions options = TlsOptions(/*mutual=*/false);
  options.tls.key = std::string(getenv("TEST_TMPDIR")) + "/garbage.key";
  std::ofstream(options.tls.key) << "not a key";
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("--tls_key"));
}

}  // namespace
}  // namespace gemma
