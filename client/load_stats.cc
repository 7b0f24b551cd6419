#include "client/load_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gemma {

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::max(1.0, rank)) - 1;
  return values[std::min(index, values.size() - 1)];
}

LoadSummary Summarize(const std::vector<RequestSample>& samples, double duration_s) {
  LoadSummary s;
  s.requests = static_cast<int>(samples.size());
  s.duration_s = duration_s;
  std::vector<double> ttft, gaps, e2e;
  for (const RequestSample& r : samples) {
    if (!r.ok) {
      ++s.errors[r.error];
      continue;
    }
    ++s.succeeded;
    s.output_tokens += r.output_tokens;
    if (r.output_tokens > 0) ttft.push_back(r.ttft_s);
    e2e.push_back(r.e2e_s);
    gaps.insert(gaps.end(), r.gaps_s.begin(), r.gaps_s.end());
  }
  if (duration_s > 0) {
    s.requests_per_s = s.succeeded / duration_s;
    s.output_tokens_per_s = s.output_tokens / duration_s;
  }
  s.ttft_p50 = Percentile(ttft, 50), s.ttft_p90 = Percentile(ttft, 90);
  s.ttft_p99 = Percentile(ttft, 99);
  s.itl_p50 = Percentile(gaps, 50), s.itl_p90 = Percentile(gaps, 90);
  s.itl_p99 = Percentile(gaps, 99);
  s.itl_mean = gaps.empty() ? 0 : std::accumulate(gaps.begin(), gaps.end(), 0.0) / gaps.size();
  s.e2e_p50 = Percentile(e2e, 50), s.e2e_p90 = Percentile(e2e, 90);
  s.e2e_p99 = Percentile(e2e, 99);
  return s;
}

std::string ToJson(const LoadSummary& s) {
  std::string errors;
  for (const auto& [code, count] : s.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", "\"", code, "\": ", count);
  }
  return absl::StrFormat(
      "{\"requests\": %d, \"succeeded\": %d, \"errors\": {%s}, \"duration_s\": %.6f, "
      "\"requests_per_s\": %.6f, \"output_tokens\": %d, \"output_tokens_per_s\": %.6f, "
      "\"ttft_s\": {\"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f}, "
      "\"itl_s\": {\"mean\": %.6f, \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f}, "
      "\"e2e_s\": {\"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f}}",
      s.requests, s.succeeded, errors, s.duration_s, s.requests_per_s, s.output_tokens,
      s.output_tokens_per_s, s.ttft_p50, s.ttft_p90, s.ttft_p99, s.itl_mean, s.itl_p50,
      s.itl_p90, s.itl_p99, s.e2e_p50, s.e2e_p90, s.e2e_p99);
}

std::string ToText(const LoadSummary& s) {
  std::string out = absl::StrFormat(
      "requests %d (%d ok) in %.2f s: %.2f req/s, %.1f output tokens/s\n", s.requests,
      s.succeeded, s.duration_s, s.requests_per_s, s.output_tokens_per_s);
  for (const auto& [code, count] : s.errors) absl::StrAppend(&out, "  error ", code, ": ", count, "\n");
  absl::StrAppend(&out, absl::StrFormat("%-18s %10s %10s %10s\n", "ms", "p50", "p90", "p99"));
  auto row = [&](const char* name, double p50, double p90, double p99) {
    absl::StrAppend(&out, absl::StrFormat("%-18s %10.2f %10.2f %10.2f\n", name, p50 * 1e3,
                                          p90 * 1e3, p99 * 1e3));
  };
  row("time to first tok", s.ttft_p50, s.ttft_p90, s.ttft_p99);
  row("inter-token", s.itl_p50, s.itl_p90, s.itl_p99);
  row("end to end", s.e2e_p50, s.e2e_p90, s.e2e_p99);
  return out;
}

}  // namespace gemma
