// The public API, gemma.v1.Gemma: prompts go through the preprocess service, generations through
// the Scheduler (which a scheduling thread drives), text back as a stream.
//
// Generate: validates the request (INVALID_ARGUMENT naming the field), preprocesses the prompt,
// resolves sampling (server defaults; a drawn seed when unset, reported back), queues it
// (RESOURCE_EXHAUSTED with a retry hint when the queue is full) and streams the scheduler's
// messages; a cancelled call, a failed write or an Abort marks the request cancelled and the
// scheduler frees its KV blocks on the next iteration. A request that fails after streaming began
// ends with FINISH_REASON_ERROR and the call's status says why.
#ifndef GEMMA_SERVICE_ROUTER_ROUTER_SERVICE_H_
#define GEMMA_SERVICE_ROUTER_ROUTER_SERVICE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gemma/preprocess/v1/preprocess.grpc.pb.h"
#include "gemma/v1/gemma_service.grpc.pb.h"
#include "preprocess/tokenizer.h"
#include "service/common/api_keys.h"
#include "service/router/router_metrics.h"
#include "service/router/scheduler.h"

namespace gemma {

struct RouterOptions {
  std::string model_name = "gemma-4-12b";
  std::string architecture;
  int max_context = 4096;
  uint32_t default_max_tokens = 512;
  uint32_t max_stop_strings = 16;
  uint32_t max_top_logprobs = 20;
  std::vector<int32_t> end_of_turn_ids = {1, 106};
  uint32_t tensor_parallel_size = 1;
  uint32_t kv_block_size = 16;
  uint32_t num_kv_blocks = 0;
  std::string drafter;                 // Empty: no MTP drafter in the worker group.
  uint32_t max_draft_tokens = 0;       // Server cap on draft tokens per step.
  bool speculative_by_default = true;  // For requests that leave speculative.enable unset.
};

class RouterService final : public v1::Gemma::Service {
 public:
  // Every argument must outlive the service; `metrics` may be null; `api_keys` null serves
  // every caller (else every RPC needs a key; a key's tenant overrides the request's).
  RouterService(preprocess::v1::Preprocess::StubInterface* preprocess, Scheduler* scheduler,
                const Tokenizer* tokenizer, RouterOptions options,
                RouterMetrics* metrics = nullptr, const ApiKeys* api_keys = nullptr);

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;
  grpc::Status GenerateUnary(grpc::ServerContext* context, const v1::GenerateRequest* request,
                             v1::GenerateResponse* response) override;
  grpc::Status Abort(grpc::ServerContext* context, const v1::AbortRequest* request,
                     v1::AbortResponse* response) override;
  grpc::Status CountTokens(grpc::ServerContext* context, const v1::CountTokensRequest* request,
                           v1::CountTokensResponse* response) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::GetModelInfoResponse* response) override;

 private:
  struct Call;
  // Validates and preprocesses; on success the request is queued and `call` receives its
  // messages. `queue_full` tells a full queue from other RESOURCE_EXHAUSTED refusals.
  grpc::Status Start(grpc::ServerContext* context, const v1::GenerateRequest& request,
                     std::shared_ptr<Call>* call, bool* queue_full);
  // Start, counting a refusal by reason (the queue full, the input's faults by code).
  grpc::Status StartCounted(grpc::ServerContext* context, const v1::GenerateRequest& request,
                            std::shared_ptr<Call>* call);
  void Forget(const ScheduledRequest& request);
  // RESOURCE_EXHAUSTED with the retry-after-ms trailer.
  grpc::Status QueueFull(grpc::ServerContext* context, bool* queue_full) const;
  // OK (with the key's tenant, if bound) or UNAUTHENTICATED (counted as a rejection).
  grpc::Status Authenticate(const grpc::ServerContext& context,
                            std::optional<std::string>* tenant) const;

  preprocess::v1::Preprocess::StubInterface* const preprocess_;
  Scheduler* const scheduler_;
  const Tokenizer* const tokenizer_;
  const RouterOptions options_;
  RouterMetrics* const metrics_;
  const ApiKeys* const api_keys_;

  absl::Mutex mutex_;
  // By tenant and request id.
  std::map<std::string, std::shared_ptr<ScheduledRequest>> active_ ABSL_GUARDED_BY(mutex_);
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_ROUTER_SERVICE_H_
