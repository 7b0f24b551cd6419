// The scheduler against real workers (in-process WorkerService, TP = 1) on a test checkpoint:
// continuous batching must give every request the tokens it gets alone from the engine.
#include "service/router/scheduler.h"

#include <cstdlib>

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
    worker::v1::StepResponse response;
    ++steps;
    absl::Status status = FromGrpcStatus(service_->Step(nullptr, &request, &response));
    if (!status.ok()) return status;
    return response;
  }
  absl::Status Release(const std::vector<uint64_t>& ids) override {
    worker::v1::ReleaseRequest request;
    for (uint64_t id : ids) request.add_sequence_ids(id);
    worker::v1::ReleaseResponse response;
    return FromGrpcStatus(service_->Release(nullptr, &request, &response));
  }
  int steps = 0;

 private:
  WorkerService* service_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCheckpointOptions options;
    options.seed = 41;
    options.num_layers = 6;
    options.gguf_path = std::string(getenv("TEST_TMPDIR")) + "/model.gguf";
    ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    model_ = Gemma4Model::Load(options.gguf_path)->release();
  }

  // A worker with `blocks` blocks per pool, and a scheduler over it.
  void Start(int blocks, int max_batch_tokens = 64) {
    registry_ = std::make_unique<monitoring::Registry>();
    service_ = std::make_unique<WorkerService>(*model_, nullptr, WorkerOptions{}, registry_.get());
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
    options.kv = {kBlock, blocks, blocks};
    options.sliding_window = model_->config().sliding_window;
    options.max_context = 1024;
    scheduler_ = std::make_unique<Scheduler>(executor_.get(), options);
  }

  struct Result {
    std::vector<int32_t> tokens;
    std::string text;
    v1::GenerateResponse last;
  };

  std::shared_ptr<ScheduledRequest> Request(std::vector<int32_t> prompt, int max_tokens,
                                            Result* result) {
    auto request = std::make_shared<ScheduledRequest>();
    request->request_id = "r";
    request->prompt = std::move(prompt);
    request->sampling.set_temperature(0);
    request->sampling.set_seed(1);
    request->output = std::make_unique<OutputStream>(
        testing::Gemma4Tokenizer(), StopConditions{{}, {}, static_cast<uint32_t>(max_tokens)});
    request->emit = [result](v1::GenerateResponse message) {
      result->tokens.insert(result->tokens.end(), message.token_ids().begin(),
                            message.token_ids().end());
      result->text += message.text();
      if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) result->last = message;
    };
    return request;
  }

  void RunUntilIdle() {
    for (int i = 0; i < 10000 && scheduler_->RunOnce(); ++i) {
    }
  }

  // Greedy tokens of the engine alone.
  static std::vector<int32_t> Reference(const std::vector<int32_t>& prompt, int count) {
    KvCache cache(model_->config(), {kBlock, 64, 64});
    BlockTables tables = ConsecutiveBlockTables(64 * kBlock, kBlock);
    std::vector<float> logits;
    EXPECT_TRUE(model_->Forward({{prompt, 0, &tables, false}}, cache, &logits).ok());
    std::vector<int32_t> out;
    int position = static_cast<int>(prompt.size());
    while (static_cast<int>(out.size()) < count) {
      out.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) -
                                         logits.begin()));
      const int32_t input[1] = {out.back()};
      EXPECT_TRUE(model_->Forward({{input, position++, &tables, false}}, cache, &logits).ok());
    }
    return out;
  }

  static std::vector<int32_t> Prompt(int length, int seed) {
    std::vector<int32_t> p = {2};
    for (int i = 1; i < length; ++i) p.push_back(1000 + (seed * 7919 + i * 104729) % 200000);
    return p;
  }

  static Gemma4Model* model_;
  std::unique_ptr<monitoring::Registry> registry_;
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

}  // namespace
}  // namespace gemma
