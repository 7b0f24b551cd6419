// The smallest server built on the common skeleton: grpc.health.v1 and reflection, no model.
// It exercises the plumbing every service shares (flags, TLS, drain) and is what the foundation's
// end-to-end test drives with foreign clients.
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "service/common/grpc_server.h"
#include "service/common/log.h"
#include "service/common/shutdown_signal.h"

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;  // Before any thread starts.
  absl::SetProgramUsageMessage("gemma-serve skeleton server: health and reflection only.");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<gemma::ServerOptions> options = gemma::ServerOptionsFromFlags(50050);
  if (!options.ok()) {
    gemma::LogError("skeleton", "%s", options.status().ToString());
    return EXIT_FAILURE;
  }
  absl::StatusOr<std::unique_ptr<gemma::GrpcServer>> server =
      gemma::GrpcServer::Start(*options, {});
  if (!server.ok()) {
    gemma::LogError("skeleton", "%s", server.status().ToString());
    return EXIT_FAILURE;
  }
  int signal = shutdown_signal.Wait();
  gemma::LogInfo("skeleton", "signal %d: shutting down", signal);
  (*server)->Shutdown();
  return EXIT_SUCCESS;
}
