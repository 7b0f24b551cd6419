// Load generator for the gemma-serve router: streams Generate calls and reports throughput and
// time to first token / inter-token / end-to-end percentiles, measured at the client.
//   gemma_loadgen --server=HOST:PORT --requests=200 --concurrency=8          (closed loop)
//   gemma_loadgen --server=HOST:PORT --requests=200 --rate=4 --concurrency=64 (open loop)
// Closed loop: `concurrency` clients, each sending its next request when the previous ends.
// Open loop: arrivals of a Poisson process at `rate` requests/s (seeded), at most `concurrency`
// in flight (an arrival that finds them all busy waits, and the wait counts in its latency).
// Prompts: --prompt_ids (token ids, the same for every request), or chats "Request i: " + a
// seeded run of --prompt_words words. The summary goes to stdout (--json: one JSON line).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/channel.h"
#include "client/load_stats.h"
#include "gemma/v1/gemma_service.grpc.pb.h"

ABSL_FLAG(int, requests, 100, "Requests to send");
ABSL_FLAG(int, concurrency, 4, "Closed loop: clients; open loop: most requests in flight");
ABSL_FLAG(double, rate, 0, "Open loop: Poisson arrivals per second (0: closed loop)");
ABSL_FLAG(int, max_tokens, 64, "Tokens to generate per request");
ABSL_FLAG(bool, ignore_eos, true, "Generate max_tokens whatever the model says");
ABSL_FLAG(double, temperature, 0, "0: greedy");
ABSL_FLAG(std::string, prompt_ids, "", "Comma-separated prompt token ids (instead of chats)");
ABSL_FLAG(int, prompt_words, 32, "Words in each generated chat prompt");
ABSL_FLAG(std::string, speculative, "default", "on, off or default (the server's policy)");
ABSL_FLAG(int, warmup, 1, "Requests sent (one at a time) and not measured before the run");
ABSL_FLAG(uint64_t, seed, 1, "Seed for prompts and arrivals");
ABSL_FLAG(bool, json, false, "Print the summary as one JSON line");

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

gemma::v1::GenerateRequest MakeRequest(int index) {
  gemma::v1::GenerateRequest request;
  const std::string ids = absl::GetFlag(FLAGS_prompt_ids);
  if (!ids.empty()) {
    for (absl::string_view part : absl::StrSplit(ids, ',', absl::SkipEmpty())) {
      int id = 0;
      if (!absl::SimpleAtoi(part, &id)) {
        std::cerr << "--prompt_ids: \"" << part << "\" is not a token id\n";
        std::exit(2);
      }
      request.mutable_prompt()->mutable_token_ids()->add_ids(id);
    }
  } else {
    static const char* kWords[] = {"model", "token", "serve", "router", "batch", "cache",
                                   "image", "audio", "fast",  "tensor", "draft", "verify"};
    std::mt19937_64 rng(absl::GetFlag(FLAGS_seed) * 1000003 + index);
    std::string text = absl::StrCat("Request ", index, ":");
    for (int w = 0; w < absl::GetFlag(FLAGS_prompt_words); ++w) {
      absl::StrAppend(&text, " ", kWords[rng() % 12]);
    }
    gemma::v1::ChatMessage* user = request.mutable_prompt()->mutable_chat()->add_messages();
    user->set_role(gemma::v1::ROLE_USER);
    user->add_parts()->set_text(text);
  }
  request.mutable_sampling()->set_temperature(absl::GetFlag(FLAGS_temperature));
  request.mutable_sampling()->set_seed(absl::GetFlag(FLAGS_seed) + index);
  request.mutable_stopping()->set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  request.mutable_stopping()->set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  const std::string speculative = absl::GetFlag(FLAGS_speculative);
  if (speculative != "default") request.mutable_speculative()->set_enable(speculative == "on");
  return request;
}

gemma::ClientChannelOptions channel_options;

// One streamed request, timed from `sent` (its arrival; earlier than now when it had to wait).
gemma::RequestSample Run(gemma::v1::Gemma::Stub& stub, const gemma::v1::GenerateRequest& request,
                         Clock::time_point sent) {
  gemma::RequestSample sample;
  grpc::ClientContext context;
  gemma::Authorize(channel_options, &context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  auto reader = stub.Generate(&context, request);
  gemma::v1::GenerateResponse message;
  Clock::time_point previous;
  while (reader->Read(&message)) {
    const int tokens = message.token_ids_size();
    if (tokens == 0) continue;
    const Clock::time_point now = Clock::now();
    if (sample.output_tokens == 0) {
      sample.ttft_s = std::chrono::duration<double>(now - sent).count();
      // Tokens beyond the first in the first message arrived with it.
      for (int i = 1; i < tokens; ++i) sample.gaps_s.push_back(0);
    } else {
      const double gap = std::chrono::duration<double>(now - previous).count();
      for (int i = 0; i < tokens; ++i) sample.gaps_s.push_back(gap / tokens);
    }
    previous = now;
    sample.output_tokens += tokens;
    if (message.has_usage()) sample.prompt_tokens = message.usage().prompt_tokens();
  }
  const grpc::Status status = reader->Finish();
  sample.e2e_s = Since(sent);
  sample.ok = status.ok();
  if (!status.ok()) {
    sample.error = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  }
  return sample;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Load generator for the gemma-serve router (gemma.v1.Gemma).");
  absl::ParseCommandLine(argc, argv);
  const int total = absl::GetFlag(FLAGS_requests);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  const double rate = absl::GetFlag(FLAGS_rate);
  absl::StatusOr<gemma::ClientChannelOptions> options = gemma::ClientChannelOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << options.status() << "\n";
    return 2;
  }
  channel_options = *options;
  // Each client its own channel (its own HTTP/2 connection), as independent callers would be.
  std::vector<std::unique_ptr<gemma::v1::Gemma::Stub>> stubs;
  for (int i = 0; i < concurrency; ++i) {
    channel_options.channel_index = i;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = gemma::MakeClientChannel(channel_options);
    if (!channel.ok()) {
      std::cerr << channel.status() << "\n";
      return 2;
    }
    stubs.push_back(gemma::v1::Gemma::NewStub(*channel));
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) {
    const gemma::RequestSample warm = Run(*stubs[0], MakeRequest(-1 - i), Clock::now());
    if (!warm.ok) {
      std::cerr << "warm-up request failed: " << warm.error << "\n";
      return 1;
    }
  }

  std::vector<gemma::RequestSample> samples(total);
  std::vector<Clock::time_point> arrivals(total);
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();
  if (rate > 0) {  // Arrival times of a seeded Poisson process.
    std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
    std::exponential_distribution<double> interval(rate);
    double t = 0;
    for (int i = 0; i < total; ++i) {
      arrivals[i] = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(t));
      t += interval(rng);
    }
  }
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      for (int i = next++; i < total; i = next++) {
        Clock::time_point sent = Clock::now();
        if (rate > 0) {
          std::this_thread::sleep_until(arrivals[i]);
          sent = std::min(Clock::now(), arrivals[i]);  // Waiting for a free slot counts.
        }
        samples[i] = Run(*stubs[c], MakeRequest(i), sent);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  const gemma::LoadSummary summary = gemma::Summarize(samples, Since(start));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << gemma::ToJson(summary) << std::endl;
  } else {
    std::cout << (rate > 0 ? absl::StrCat("open loop, ", rate, " req/s, ")
                           : absl::StrCat("closed loop, "))
              << concurrency << (rate > 0 ? " in flight at most" : " clients") << "\n"
              << gemma::ToText(summary);
  }
  return summary.succeeded == summary.requests ? 0 : 1;
}
