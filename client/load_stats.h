// What a load run measured, from the client's side: per-request time to first token, the gaps
// between streamed tokens (a message of n tokens after a gap g counts as n gaps of g / n, so a
// speculative step's burst is not mistaken for n instant tokens), end-to-end latency, and errors
// by status code; and the summary the load generator prints (throughput, p50/p90/p99).
#ifndef GEMMA_CLIENT_LOAD_STATS_H_
#define GEMMA_CLIENT_LOAD_STATS_H_

#include <map>
#include <string>
#include <vector>

namespace gemma {

struct RequestSample {
  bool ok = false;
  std::string error;           // Status code name when !ok.
  double ttft_s = 0;           // Send to the first message carrying tokens.
  double e2e_s = 0;            // Send to the end of the stream.
  int output_tokens = 0;
  int prompt_tokens = 0;
  std::vector<double> gaps_s;  // Inter-token gaps (see above).
};

// Nearest-rank percentile (p in [0, 100]) of `values`; 0 for none.
double Percentile(std::vector<double> values, double p);

struct LoadSummary {
  int requests = 0, succeeded = 0;
  std::map<std::string, int> errors;
  double duration_s = 0;
  double requests_per_s = 0, output_tokens_per_s = 0;
  double ttft_p50 = 0, ttft_p90 = 0, ttft_p99 = 0;
  double itl_p50 = 0, itl_p90 = 0, itl_p99 = 0, itl_mean = 0;
  double e2e_p50 = 0, e2e_p90 = 0, e2e_p99 = 0;
  int output_tokens = 0;
};

LoadSummary Summarize(const std::vector<RequestSample>& samples, double duration_s);
// One line of JSON with every field of the summary.
std::string ToJson(const LoadSummary& summary);
// A human-readable table.
std::string ToText(const LoadSummary& summary);

}  // namespace gemma

#endif  // GEMMA_CLIENT_LOAD_STATS_H_
