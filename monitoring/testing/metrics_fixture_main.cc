// A process that serves a known set of metrics at /metrics until SIGTERM, for the exposition
// and Prometheus-scrape tests: gemma_fixture_requests_total{kind} = 42 (text) and 7 (image), a
// gauge, a vLLM-named gauge, and a latency histogram of 100 observations 0.01 .. 1.00 s.
#include <cstdio>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "monitoring/metrics.h"
#include "monitoring/metrics_http_server.h"
#include "service/common/shutdown_signal.h"

ABSL_FLAG(int, metrics_port, 0, "Port (0: any).");
ABSL_FLAG(std::string, port_file, "", "Write the bound port here.");
ABSL_FLAG(bool, print, false, "Print the exposition and exit.");

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;
  absl::ParseCommandLine(argc, argv);
  gemma::monitoring::Registry registry;
  auto* requests = registry.AddCounter("gemma_fixture_requests_total",
                                       "Requests handled, by kind.", {"kind"});
  requests->WithLabels({"text"})->Increment(42);
  requests->WithLabels({"image"})->Increment(7);
  registry.AddGauge("gemma_fixture_queue_depth", "Requests waiting.")->WithLabels({})->Set(3);
  registry.AddGauge("vllm:num_requests_waiting", "Requests waiting (vLLM name).", {"model_name"})
      ->WithLabels({"gemma-4-12b"})
      ->Set(3);
  auto* latency = registry.AddHistogram("gemma_fixture_latency_seconds", "Request latency.",
                                        {"kind"}, gemma::monitoring::RequestLatencyBuckets());
  for (int i = 1; i <= 100; ++i) latency->WithLabels({"text"})->Observe(i / 100.0);
  if (absl::GetFlag(FLAGS_print)) {
    std::fputs(registry.Exposition().c_str(), stdout);
    return 0;
  }
  auto server = gemma::monitoring::MetricsHttpServer::Start("127.0.0.1",
                                                            absl::GetFlag(FLAGS_metrics_port),
                                                            &registry);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_port_file)) << (*server)->port() << "\n";
  }
  shutdown_signal.Wait();
  return 0;
}
