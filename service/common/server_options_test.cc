#include "service/common/server_options.h"

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(int64_t, drain_timeout_ms);

namespace gemma {
namespace {

using ::testing::HasSubstr;

TEST(ServerOptionsTest, DefaultsAreValid) {
  ServerOptions options;
  EXPECT_TRUE(ValidateServerOptions(options).ok());
  EXPECT_EQ(options.address(), "127.0.0.1:0");
}

TEST(ServerOptionsTest, Ipv6HostIsBracketed) {
  ServerOptions options;
  options.host = "::1";
  options.port = 8080;
  EXPECT_EQ(options.address(), "[::1]:8080");
}

TEST(ServerOptionsTest, RejectsPortOutOfRange) {
  ServerOptions options;
  options.port = 70000;
  absl::Status status = ValidateServerOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--port"));
}

TEST(ServerOptionsTest, RejectsHalfATlsPair) {
  ServerOptions options;
  options.tls.cert = "server.pem";
  EXPECT_THAT(ValidateServerOptions(options).message(), HasSubstr("--tls_key"));
  options.tls = {};
  options.tls.key = "server.key";
  EXPECT_THAT(ValidateServerOptions(options).message(), HasSubstr("--tls_cert"));
}

TEST(ServerOptionsTest, RejectsClientCaWithoutServerCertificate) {
  ServerOptions options;
  options.tls.client_ca = "ca.pem";
  EXPECT_THAT(ValidateServerOptions(options).message(), HasSubstr("--tls_client_ca"));
}

TEST(ServerOptionsTest, RejectsTinyMessageLimitAndNegativeDrain) {
  ServerOptions options;
  options.max_message_bytes = 10;
  EXPECT_THAT(ValidateServerOptions(options).message(), HasSubstr("--max_message_bytes"));
  options = ServerOptions();
  options.drain_timeout = absl::Seconds(-1);
  EXPECT_THAT(ValidateServerOptions(options).message(), HasSubstr("--drain_timeout_ms"));
}

TEST(ServerOptionsTest, FlagsFillOptionsAndServiceDefaultPortApplies) {
  absl::StatusOr<ServerOptions> options = ServerOptionsFromFlags(50123);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->port, 50123);

  absl::SetFlag(&FLAGS_port, 0);
  absl::SetFlag(&FLAGS_drain_timeout_ms, 1500);
  options = ServerOptionsFromFlags(50123);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->port, 0);
  EXPECT_EQ(options->drain_timeout, absl::Milliseconds(1500));

  absl::SetFlag(&FLAGS_tls_cert, "only-a-cert.pem");
  options = ServerOptionsFromFlags(50123);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  absl::SetFlag(&FLAGS_tls_cert, "");
  absl::SetFlag(&FLAGS_port, -1);
}

}  // namespace
}  // namespace gemma
