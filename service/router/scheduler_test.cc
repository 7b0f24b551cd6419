// The scheduler against real workers (in-process WorkerService, TP = 1) on a test checkpoint:
// continuous batching must give every request the tokens it gets alone from the engine.
#include "service/router/scheduler.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/model/gemma4_drafter.h"

#include "engine/model/gemma4.h"
#include "engine/tools/test_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "preprocess/testing/shared_tokenizers.h"
#include "service/common/status_util.h"
#include "service/worker/worker_service.h"

namespace gemma {
namespace {

constexpr int kBlock = 16;

class LocalExecutor : public StepExecutor {
 public:
  explicit LocalExecutor(WorkerService* service) : service_(service) {}
  absl::StatusOr<worker::v1::StepResponse> Step(const worker::v1::StepRequest& request) override {
    ++steps;
    if (fail_steps) return absl::UnavailableError("worker rank 1: connection refused");
    worker::v1::StepResponse response;
    absl::Status status = FromGrpcStatus(service_->Step(nullptr, &request, &response));
    if (!status.ok()) return status;
    for (const worker::v1::DecodeItem& item : request.decode()) {
      max_drafts = std::max<int>(max_drafts, item.num_draft_tokens());
    }
    return response;
  }
  absl::Status Release(const std::vector<uint64_t>& ids) override {
    worker::v1::ReleaseRequest request;
    for (uint64_t id : ids) request.add_sequence_ids(id);
    worker::v1::ReleaseResponse response;
    return FromGrpcStatus(service_->Release(nullptr, &request, &response));
  }
  absl::StatusOr<worker::v1::KvCacheGeometry> Recover() override {
    ++recoveries;
    if (fail_steps) return absl::UnavailableError("worker rank 1: connection refused");
    worker::v1::ClearCacheResponse cleared;
    absl::Status status = FromGrpcStatus(service_->ClearCache(nullptr, nullptr, &cleared));
    if (!status.ok()) return status;
    worker::v1::InfoResponse info;
    status = FromGrpcStatus(service_->Info(nullptr, nullptr, &info));
    if (!status.ok()) return status;
    return info.kv_cache();
  }
  int steps = 0;
  int recoveries = 0;
  int max_drafts = 0;       // Largest draft length sent.
  bool fail_steps = false;  // The group is down: steps and recovery fail.

 private:
  WorkerService* service_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (model_ != nullptr) return;  // Shared by the fixtures below.
    TestCheckpointOptions options;
    options.seed = 41;
    options.num_layers = 6;
    options.gguf_path = std::string(getenv("TEST_TMPDIR")) + "/model.gguf";
    ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    model_ = Gemma4Model::Load(options.gguf_path)->release();
  }

  // A worker with `blocks` blocks per pool over `model` (and `drafter`), and a scheduler over
  // it that drafts up to `max_draft_tokens` per sequence and step.
  void Start(int blocks, int max_batch_tokens = 64, int max_running = 64,
             const Gemma4Model* model = nullptr, const Drafter* drafter = nullptr,
             int max_draft_tokens = 0) {
    model = model != nullptr ? model : model_;
    registry_ = std::make_unique<monitoring::Registry>();
    backend_ = std::make_unique<CpuBackend>(*model, drafter);
    service_ = std::make_unique<WorkerService>(*backend_, WorkerOptions{}, registry_.get());
    worker::v1::WarmupRequest warmup;
    warmup.set_max_batch_tokens(max_batch_tokens);
    warmup.set_max_sequences(8);
    warmup.set_num_full_blocks(blocks);
    warmup.set_num_sliding_blocks(blocks);
    worker::v1::WarmupResponse response;
    ASSERT_TRUE(service_->Warmup(nullptr, &warmup, &response).ok());
    executor_ = std::make_unique<LocalExecutor>(service_.get());
    SchedulerOptions options;
    options.max_batch_tokens = max_batch_tokens;
    options.max_running = max_running;
    options.max_waiting = max_waiting_;
    options.kv = {kBlock, blocks, blocks};
    options.sliding_window = model->config().sliding_window;
    options.max_context = 1024;
    options.speculation.max_draft_tokens = max_draft_tokens;
    options.recovery_interval = absl::ZeroDuration();
    metrics_ = std::make_unique<RouterMetrics>(registry_.get(), "test");
    scheduler_ = std::make_unique<Scheduler>(executor_.get(), options, metrics_.get());
  }

  double Metric(const std::string& series) const {
    for (absl::string_view line : absl::StrSplit(registry_->Exposition(), '\n')) {
      if (absl::StartsWith(line, series + " ")) {
        return std::stod(std::string(line.substr(series.size() + 1)));
      }
    }
    return -1;
  }

  struct Result {
    std::vector<int32_t> tokens;
    std::string text;
    v1::GenerateResponse last;
    int order = 0;  // 1 for the first request to finish, 2 for the next, ...
  };

  std::shared_ptr<ScheduledRequest> Request(std::vector<int32_t> prompt, int max_tokens,
                                            Result* result, int max_draft_tokens = 0) {
    auto request = std::make_shared<ScheduledRequest>();
    request->request_id = "r";
    request->max_draft_tokens = max_draft_tokens;
    request->prompt = std::move(prompt);
    request->sampling.set_temperature(0);
    request->sampling.set_seed(1);
    request->output = std::make_unique<OutputStream>(
        testing::Gemma4Tokenizer(), StopConditions{{}, {}, static_cast<uint32_t>(max_tokens)});
    request->emit = [this, result](v1::GenerateResponse message) {
      result->tokens.insert(result->tokens.end(), message.token_ids().begin(),
                            message.token_ids().end());
      result->text += message.text();
      if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
        result->last = message;
        result->order = ++finished_;
      }
    };
    return request;
  }

  void RunUntilIdle() {
    for (int i = 0; i < 10000 && scheduler_->RunOnce(); ++i) {
    }
  }

  // Greedy tokens of the engine alone.
  static std::vector<int32_t> Reference(const std::vector<int32_t>& prompt, int count,
                                        const Gemma4Model* model = nullptr) {
    model = model != nullptr ? model : model_;
    KvCache cache(model->config(), {kBlock, 64, 64});
    BlockTables tables = ConsecutiveBlockTables(64 * kBlock, kBlock);
    std::vector<float> logits;
    EXPECT_TRUE(model->Forward({{prompt, 0, &tables, false}}, cache, &logits).ok());
    std::vector<int32_t> out;
    int position = static_cast<int>(prompt.size());
    while (static_cast<int>(out.size()) < count) {
      out.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                                         logits.begin()));
      const int32_t input[1] = {out.back()};
      EXPECT_TRUE(model->Forward({{input, position++, &tables, false}}, cache, &logits).ok());
    }
    return out;
  }

  static std::vector<int32_t> Prompt(int length, int seed) {
    std::vector<int32_t> p = {2};
    for (int i = 1; i < length; ++i) p.push_back(1000 + (seed * 7919 + i * 104729) % 200000);
    return p;
  }

  static Gemma4Model* model_;
  int finished_ = 0;
  int max_waiting_ = 1024;  // For the next Start.
  std::unique_ptr<monitoring::Registry> registry_;
  std::unique_ptr<RouterMetrics> metrics_;
  std::unique_ptr<CpuBackend> backend_;  // Before service_: destroyed after it.
  std::unique_ptr<WorkerService> service_;
  std::unique_ptr<LocalExecutor> executor_;
  std::unique_ptr<Scheduler> scheduler_;
};

Gemma4Model* SchedulerTest::model_ = nullptr;

TEST_F(SchedulerTest, BatchedRequestsMatchTheEngineAlone) {
  Start(/*blocks=*/64, /*max_batch_tokens=*/48);  // Prompts of 70 tokens prefill in chunks.
  std::vector<Result> results(4);
  const std::vector<int> lengths = {5, 70, 23, 41};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(scheduler_->Submit(Request(Prompt(lengths[i], i), 10, &results[i])).ok());
  }
  RunUntilIdle();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(results[i].tokens, Reference(Prompt(lengths[i], i), 10)) << i;
    EXPECT_EQ(results[i].last.finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(results[i].last.usage().completion_tokens(), 10u);
    EXPECT_EQ(results[i].last.usage().prompt_tokens(), static_cast<uint32_t>(lengths[i]));
    EXPECT_EQ(results[i].text, testing::Gemma4Tokenizer().Decode(results[i].tokens, true));
  }
  EXPECT_EQ(scheduler_->num_running(), 0);
  EXPECT_EQ(scheduler_->kv_usage(), 0.0);
  EXPECT_EQ(service_->num_sequences(), 0);  // Released on the worker too.
  // Fewer steps than running the four one after the other: they were batched.
  EXPECT_LT(executor_->steps, 4 * 11);
}

TEST_F(SchedulerTest, SharedPrefixIsServedFromTheCache) {
  Start(64);
  std::vector<int32_t> system = Prompt(50, 9);
  std::vector<int32_t> a = system, b = system;
  a.push_back(777);
  b.push_back(888);
  Result first, second;
  ASSERT_TRUE(scheduler_->Submit(Request(a, 6, &first)).ok());
  RunUntilIdle();
  ASSERT_TRUE(scheduler_->Submit(Request(b, 6, &second)).ok());
  RunUntilIdle();
  EXPECT_EQ(first.last.usage().cached_prompt_tokens(), 0u);
  EXPECT_EQ(second.last.usage().cached_prompt_tokens(), 48u);  // Three full blocks.
  EXPECT_EQ(second.tokens, Reference(b, 6));
}

TEST_F(SchedulerTest, PreemptionRecomputesAndKeepsOutputs) {
  // 12 blocks of 16 for four sequences of 40 + 30 tokens: they cannot all stay resident.
  Start(/*blocks=*/12, /*max_batch_tokens=*/64);
  std::vector<Result> results(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(scheduler_->Submit(Request(Prompt(40, 20 + i), 30, &results[i])).ok());
  }
  RunUntilIdle();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(results[i].tokens, Reference(Prompt(40, 20 + i), 30)) << i;
    EXPECT_EQ(results[i].last.finish_reason(), v1::FINISH_REASON_LENGTH) << i;
  }
  EXPECT_GT(scheduler_->preemptions(), 0) << "the pool was meant to be too small";
  EXPECT_EQ(scheduler_->kv_usage(), 0.0);
  EXPECT_EQ(service_->num_sequences(), 0);
}

TEST_F(SchedulerTest, CancelFreesEverythingAndOversizedPromptsAreRefused) {
  Start(32);
  Result result;
  auto request = Request(Prompt(30, 3), 500, &result);
  ASSERT_TRUE(scheduler_->Submit(request).ok());
  for (int i = 0; i < 5; ++i) scheduler_->RunOnce();
  EXPECT_GT(scheduler_->kv_usage(), 0.0);
  request->cancelled = true;
  RunUntilIdle();
  EXPECT_EQ(result.last.finish_reason(), v1::FINISH_REASON_ABORT);
  EXPECT_EQ(scheduler_->kv_usage(), 0.0);
  EXPECT_EQ(service_->num_sequences(), 0);
  Result unused;
  EXPECT_EQ(scheduler_->Submit(Request(Prompt(600, 1), 1, &unused)).code(),
            absl::StatusCode::kResourceExhausted);  // 38 blocks > 32.
  EXPECT_EQ(scheduler_->Submit(Request({}, 1, &unused)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, AFullQueueRefusesExactlyPastItsBound) {
  max_waiting_ = 3;
  Start(32);
  std::vector<Result> results(5);
  std::vector<absl::Status> statuses;
  for (int i = 0; i < 5; ++i) statuses.push_back(scheduler_->Submit(Request(Prompt(8, i), 2, &results[i])));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(statuses[i].ok()) << i;
  for (int i = 3; i < 5; ++i) {
    EXPECT_EQ(statuses[i].code(), absl::StatusCode::kResourceExhausted) << i;
    EXPECT_TRUE(Scheduler::IsQueueFull(statuses[i])) << i;
  }
  // Too large for the pool is RESOURCE_EXHAUSTED too, but not a full queue.
  Result big;
  const absl::Status too_big = scheduler_->Submit(Request(Prompt(600, 1), 1, &big));  // 38 > 32.
  EXPECT_EQ(too_big.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Scheduler::IsQueueFull(too_big));
  RunUntilIdle();
  EXPECT_TRUE(scheduler_->Submit(Request(Prompt(8, 9), 2, &results[3])).ok());  // Room again.
  RunUntilIdle();
  EXPECT_EQ(results[3].tokens.size(), 2u);
}

TEST_F(SchedulerTest, BetterPriorityPreemptsAndFinishesFirst) {
  Start(/*blocks=*/64, /*max_batch_tokens=*/64, /*max_running=*/1);
  Result low, high;
  auto background = Request(Prompt(20, 5), 40, &low);
  background->priority = 10;
  ASSERT_TRUE(scheduler_->Submit(background).ok());
  for (int i = 0; i < 4; ++i) scheduler_->RunOnce();  // Running, part-way through its output.
  auto urgent = Request(Prompt(12, 6), 8, &high);
  urgent->priority = -10;
  ASSERT_TRUE(scheduler_->Submit(urgent).ok());
  RunUntilIdle();
  EXPECT_EQ(high.order, 1);
  EXPECT_EQ(low.order, 2);
  EXPECT_GE(scheduler_->preemptions(), 1);
  EXPECT_EQ(Metric("vllm:num_preemptions_total{model_name=\"test\"}"), scheduler_->preemptions());
  // The preempted request was recomputed: its output is still the engine's.
  EXPECT_EQ(low.tokens, Reference(Prompt(20, 5), 40));
  EXPECT_EQ(high.tokens, Reference(Prompt(12, 6), 8));
}

TEST_F(SchedulerTest, EqualPriorityDoesNotPreempt) {
  Start(64, 64, /*max_running=*/1);
  Result first, second;
  ASSERT_TRUE(scheduler_->Submit(Request(Prompt(20, 5), 10, &first)).ok());
  scheduler_->RunOnce();
  ASSERT_TRUE(scheduler_->Submit(Request(Prompt(12, 6), 4, &second)).ok());
  RunUntilIdle();
  EXPECT_EQ(first.order, 1);
  EXPECT_EQ(scheduler_->preemptions(), 0);
}

TEST_F(SchedulerTest, ALightTenantIsNotStuckBehindAHeavyOne) {
  Start(64, 64, /*max_running=*/1);
  std::vector<Result> heavy(3);
  Result light;
  for (int i = 0; i < 3; ++i) {
    auto r = Request(Prompt(30, 40 + i), 12, &heavy[i]);
    r->tenant = "batch-jobs";
    ASSERT_TRUE(scheduler_->Submit(r).ok());
  }
  auto r = Request(Prompt(10, 50), 4, &light);
  r->tenant = "interactive";
  ASSERT_TRUE(scheduler_->Submit(r).ok());
  RunUntilIdle();
  // Arrival order would make it last; the tenant's zero counter puts it right after the one
  // heavy request that was already admitted.
  EXPECT_EQ(heavy[0].order, 1);
  EXPECT_EQ(light.order, 2);
  EXPECT_EQ(light.tokens, Reference(Prompt(10, 50), 4));
}

TEST_F(SchedulerTest, AFailedGroupFailsItsRequestsAndServesAgainOnceBack) {
  Start(32);
  std::vector<Result> results(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(scheduler_->Submit(Request(Prompt(20, 60 + i), 50, &results[i])).ok());
  }
  for (int i = 0; i < 4; ++i) scheduler_->RunOnce();
  executor_->fail_steps = true;
  scheduler_->RunOnce();
  for (const Result& result : results) {
    EXPECT_EQ(result.last.finish_reason(), v1::FINISH_REASON_ERROR);
    EXPECT_THAT(result.last.matched_stop(), ::testing::HasSubstr("worker group failed"));
  }
  EXPECT_FALSE(scheduler_->available());
  EXPECT_EQ(scheduler_->kv_usage(), 0.0);
  Result refused;
  EXPECT_EQ(scheduler_->Submit(Request(Prompt(8, 1), 2, &refused)).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(scheduler_->RunOnce());  // Recovery tried and failed: still down.
  EXPECT_FALSE(scheduler_->available());
  EXPECT_GE(executor_->recoveries, 1);

  executor_->fail_steps = false;  // The group is back.
  scheduler_->RunOnce();
  EXPECT_TRUE(scheduler_->available());
  EXPECT_EQ(service_->num_sequences(), 0);  // Cleared by Recover.
  Result after;
  ASSERT_TRUE(scheduler_->Submit(Request(Prompt(20, 60), 6, &after)).ok());
  RunUntilIdle();
  EXPECT_EQ(after.tokens, Reference(Prompt(20, 60), 6));
  EXPECT_EQ(Metric("vllm:request_success_total{model_name=\"test\",finished_reason=\"error\"}"), 2);
}

TEST_F(SchedulerTest, MetricsCountWhatClientsWereTold) {
  Start(64);
  std::vector<Result> results(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(scheduler_->Submit(Request(Prompt(10 + 7 * i, 70 + i), 5 + i, &results[i])).ok());
  }
  scheduler_->RunOnce();
  scheduler_->RunOnce();
  EXPECT_GT(Metric("gemma_router_kv_blocks{model_name=\"test\",pool=\"full\",state=\"used\"}"), 0);
  EXPECT_EQ(Metric("vllm:num_requests_running{model_name=\"test\"}"), 3);
  RunUntilIdle();
  double prompt = 0, generated = 0;
  for (const Result& r : results) {
    prompt += r.last.usage().prompt_tokens();
    generated += r.last.usage().completion_tokens();
  }
  EXPECT_EQ(Metric("vllm:prompt_tokens_total{model_name=\"test\"}"), prompt);
  EXPECT_EQ(Metric("vllm:generation_tokens_total{model_name=\"test\"}"), generated);
  EXPECT_EQ(Metric("vllm:request_success_total{model_name=\"test\",finished_reason=\"length\"}"), 3);
  EXPECT_EQ(Metric("vllm:time_to_first_token_seconds_count{model_name=\"test\"}"), 3);
  EXPECT_EQ(Metric("vllm:prefix_cache_queries_total{model_name=\"test\"}"), prompt);
  EXPECT_EQ(Metric("vllm:num_requests_running{model_name=\"test\"}"), 0);
  EXPECT_EQ(Metric("vllm:kv_cache_usage_perc{model_name=\"test\"}"), 0);
  EXPECT_EQ(Metric("gemma_router_kv_blocks{model_name=\"test\",pool=\"full\",state=\"used\"}"), 0);
  EXPECT_EQ(Metric("gemma_router_kv_blocks{model_name=\"test\",pool=\"sliding\",state=\"free\"}"), 64);
  // 15 + 6 + 7 tokens emitted; every token after a request's first is one inter-token gap.
  EXPECT_EQ(Metric("vllm:inter_token_latency_seconds_count{model_name=\"test\"}"), generated - 3);
}

// Speculative decoding through the scheduler: a target/drafter pair whose drafts are accepted
// about half the time by construction (echo target), and a random pair (drafts mostly rejected).
class SpeculativeSchedulingTest : public SchedulerTest {
 protected:
  static void SetUpTestSuite() {
    SchedulerTest::SetUpTestSuite();
    if (targets_[0] != nullptr) return;
    const std::string tmp = getenv("TEST_TMPDIR");
    for (int pair = 0; pair < 2; ++pair) {
      TestCheckpointOptions options;
      options.seed = 43 + pair;
      options.num_layers = 6;
      options.echo = pair == 0;
      options.drafter_agreement = pair == 0 ? 0.5f : -1.f;
      options.hf_dir = tmp + "/target" + std::to_string(pair);
      options.drafter_dir = tmp + "/drafter" + std::to_string(pair);
      ASSERT_TRUE(WriteTestCheckpoint(options).ok());
      targets_[pair] = Gemma4Model::Load(options.hf_dir)->release();
      auto drafter = Gemma4Drafter::Load(options.drafter_dir, *targets_[pair]);
      ASSERT_TRUE(drafter.ok()) << drafter.status();
      drafters_[pair] = drafter->release();
    }
  }

  // Runs four batched greedy requests; returns their results.
  std::vector<Result> Run(int pair, int max_draft_tokens) {
    Start(/*blocks=*/64, /*max_batch_tokens=*/64, 64, targets_[pair], drafters_[pair],
          max_draft_tokens);
    std::vector<Result> results(4);
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(scheduler_
                      ->Submit(Request(Prompt(9 + 11 * i, 80 + i), 24, &results[i],
                                       max_draft_tokens))
                      .ok());
    }
    RunUntilIdle();
    EXPECT_EQ(scheduler_->kv_usage(), 0.0);
    EXPECT_EQ(service_->num_sequences(), 0);
    return results;
  }

  static Gemma4Model* targets_[2];
  static Gemma4Drafter* drafters_[2];
};

Gemma4Model* SpeculativeSchedulingTest::targets_[2] = {nullptr, nullptr};
Gemma4Drafter* SpeculativeSchedulingTest::drafters_[2] = {nullptr, nullptr};

TEST_F(SpeculativeSchedulingTest, GreedyOutputIsTheSameWithAndWithoutDrafts) {
  for (int pair = 0; pair < 2; ++pair) {
    const std::vector<Result> plain = Run(pair, 0);
    EXPECT_EQ(executor_->max_drafts, 0);
    for (int max_draft : {1, 4}) {
      const std::vector<Result> speculative = Run(pair, max_draft);
      EXPECT_GT(executor_->max_drafts, 0) << "pair " << pair << ": the policy never drafted";
      EXPECT_LE(executor_->max_drafts, max_draft);
      int64_t drafted = 0, accepted = 0;
      for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(speculative[i].tokens, plain[i].tokens) << "pair " << pair << " request " << i;
        EXPECT_EQ(speculative[i].last.finish_reason(), plain[i].last.finish_reason());
        EXPECT_EQ(speculative[i].last.usage().completion_tokens(), 24u);
        drafted += speculative[i].last.usage().drafted_tokens();
        accepted += speculative[i].last.usage().accepted_tokens();
      }
      // Usage, the policy's statistics and the metrics agree.
      EXPECT_EQ(drafted, scheduler_->draft_policy().global().drafted);
      EXPECT_EQ(accepted, scheduler_->draft_policy().global().accepted);
      EXPECT_EQ(Metric("vllm:spec_decode_num_draft_tokens_total{model_name=\"test\"}"), drafted);
      EXPECT_EQ(Metric("vllm:spec_decode_num_accepted_tokens_total{model_name=\"test\"}"),
                accepted);
      EXPECT_GT(drafted, 0);
      if (pair == 0) {
        EXPECT_GT(accepted, 0) << "the half-agreeing drafter was never accepted";
        EXPECT_LT(accepted, drafted) << "nothing was ever rejected and rolled back";
      }
    }
    const std::vector<int32_t> prompt = Prompt(9, 80);
    EXPECT_EQ(plain[0].tokens, Reference(prompt, 24, targets_[pair])) << "pair " << pair;
  }
}

TEST_F(SpeculativeSchedulingTest, DraftsNeverRunPastMaxTokensOrTheRequestCap) {
  Start(64, 64, 64, targets_[0], drafters_[0], /*max_draft_tokens=*/6);
  Result capped, none;
  ASSERT_TRUE(scheduler_->Submit(Request(Prompt(12, 90), 3, &capped, 6)).ok());
  ASSERT_TRUE(scheduler_->Submit(Request(Prompt(12, 91), 10, &none, 0)).ok());
  RunUntilIdle();
  EXPECT_EQ(capped.last.usage().completion_tokens(), 3u);
  // The prefill samples token 1; a step then drafts at most (3 - 1) - 1 = 1, and after a
  // rejection (2 tokens) none: no draft is ever spent past max_tokens.
  EXPECT_LE(capped.last.usage().drafted_tokens(), 1u);
  EXPECT_EQ(none.last.usage().drafted_tokens(), 0u);
  EXPECT_EQ(capped.tokens, Reference(Prompt(12, 90), 3, targets_[0]));
}

}  // namespace
}  // namespace gemma
