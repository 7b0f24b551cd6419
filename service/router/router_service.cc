#include "service/router/router_service.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "service/common/status_util.h"

namespace gemma {
namespace {

grpc::Status Invalid(const std::string& message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, message};
}

// [A-Za-z0-9_.:-]{min,max}
bool ValidName(const std::string& id, size_t min, size_t max) {
  if (id.size() < min || id.size() > max) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != ':' && c != '-') return false;
  }
  return true;
}

// Server defaults (the checkpoint's generation_config: temperature 1, top_k 64, top_p 0.95)
// for unset fields, and range checks naming the field.
grpc::Status ResolveSampling(const v1::SamplingParams& in, int vocab, v1::SamplingParams* out) {
  *out = in;
  if (!out->has_temperature()) out->set_temperature(1.f);
  if (!out->has_top_k()) out->set_top_k(64);
  if (!out->has_top_p()) out->set_top_p(0.95f);
  if (!out->has_min_p()) out->set_min_p(0.f);
  if (!out->has_repetition_penalty()) out->set_repetition_penalty(1.f);
  if (!out->has_presence_penalty()) out->set_presence_penalty(0.f);
  if (!out->has_frequency_penalty()) out->set_frequency_penalty(0.f);
  if (!out->has_seed()) {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    out->set_seed(rng());
  }
  if (!(out->temperature() >= 0 && out->temperature() <= 2)) {
    return Invalid("sampling.temperature: must be in [0, 2]");
  }
  if (out->top_k() > static_cast<uint32_t>(vocab)) return Invalid("sampling.top_k: exceeds the vocabulary");
  if (!(out->top_p() > 0 && out->top_p() <= 1)) return Invalid("sampling.top_p: must be in (0, 1]");
  if (!(out->min_p() >= 0 && out->min_p() <= 1)) return Invalid("sampling.min_p: must be in [0, 1]");
  if (!(out->repetition_penalty() > 0)) return Invalid("sampling.repetition_penalty: must be > 0");
  if (!(std::abs(out->presence_penalty()) <= 2)) {
    return Invalid("sampling.presence_penalty: must be in [-2, 2]");
  }
  if (!(std::abs(out->frequency_penalty()) <= 2)) {
    return Invalid("sampling.frequency_penalty: must be in [-2, 2]");
  }
  for (int i = 0; i < out->suppress_token_ids_size(); ++i) {
    if (out->suppress_token_ids(i) < 0 || out->suppress_token_ids(i) >= vocab) {
      return Invalid(absl::StrCat("sampling.suppress_token_ids[", i, "]: out of range"));
    }
  }
  return grpc::Status::OK;
}

// The call's deadline (if any) has passed. The request is then aborted (its KV freed) and the
// call ends with DEADLINE_EXCEEDED once the scheduler confirms.
bool PastDeadline(const grpc::ServerContext& context) {
  return context.deadline() != std::chrono::system_clock::time_point::max() &&
         std::chrono::system_clock::now() > context.deadline();
}

// In-flight requests are keyed by tenant and request id (ids are unique per tenant).
std::string ActiveKey(const std::string& tenant, const std::string& request_id) {
  return absl::StrCat(tenant, "\x1f", request_id);
}

}  // namespace

// Messages the scheduler emits for one call, waiting for the handler thread to write them.
struct RouterService::Call {
  absl::Mutex mutex;
  std::deque<v1::GenerateResponse> messages ABSL_GUARDED_BY(mutex);
  std::shared_ptr<ScheduledRequest> request;

  // Waits up to `timeout` for the next message.
  bool Next(absl::Duration timeout, v1::GenerateResponse* message) {
    absl::MutexLock lock(&mutex);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mutex) { return !messages.empty(); };
    mutex.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (messages.empty()) return false;
    *message = std::move(messages.front());
    messages.pop_front();
    return true;
  }
};

RouterService::RouterService(preprocess::v1::Preprocess::StubInterface* preprocess,
                             Scheduler* scheduler, const Tokenizer* tokenizer,
                             RouterOptions options, RouterMetrics* metrics,
                             const ApiKeys* api_keys)
    : preprocess_(preprocess), scheduler_(scheduler), tokenizer_(tokenizer),
      options_(std::move(options)), metrics_(metrics), api_keys_(api_keys) {}

grpc::Status RouterService::StartCounted(grpc::ServerContext* context,
                                         const v1::GenerateRequest& request,
                                         std::shared_ptr<Call>* call) {
  bool queue_full = false;
  grpc::Status status = Start(context, request, call, &queue_full);
  if (status.ok() || metrics_ == nullptr) return status;
  Rejection reason = Rejection::kOther;
  switch (queue_full ? grpc::StatusCode::ABORTED : status.error_code()) {
    case grpc::StatusCode::ABORTED: reason = Rejection::kQueueFull; break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: reason = Rejection::kInvalidArgument; break;
    case grpc::StatusCode::UNAUTHENTICATED: return status;  // Counted by Authenticate.
    case grpc::StatusCode::PERMISSION_DENIED: reason = Rejection::kUnauthenticated; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: reason = Rejection::kDeadline; break;
    case grpc::StatusCode::UNAVAILABLE: reason = Rejection::kUnavailable; break;
    case grpc::StatusCode::NOT_FOUND: reason = Rejection::kNotFound; break;
    default: break;
  }
  metrics_->AddRejection(reason);
  return status;
}

grpc::Status RouterService::Start(grpc::ServerContext* context, const v1::GenerateRequest& in,
                                  std::shared_ptr<Call>* call_out, bool* queue_full) {
  if (!in.model().empty() && in.model() != options_.model_name) {
    return {grpc::StatusCode::NOT_FOUND,
            absl::StrCat("model \"", in.model(), "\" is not served (", options_.model_name, ")")};
  }
  if (!in.request_id().empty() && !ValidName(in.request_id(), 1, 128)) {
    return Invalid("request_id: must match [A-Za-z0-9_.:-]{1,128}");
  }
  if (!ValidName(in.tenant(), 0, 64)) return Invalid("tenant: must match [A-Za-z0-9_.:-]{0,64}");
  if (in.priority() < -100 || in.priority() > 100) return Invalid("priority: must be in [-100, 100]");
  std::optional<std::string> bound;
  grpc::Status status = Authenticate(*context, &bound);
  if (!status.ok()) return status;
  const int vocab = tokenizer_->vocab_size();
  auto request = std::make_shared<ScheduledRequest>();
  request->tenant = bound.value_or(in.tenant());  // A key's tenant wins.
  request->priority = in.priority();
  const v1::SpeculativeOptions& speculative = in.speculative();
  if (speculative.has_enable() && speculative.enable() && options_.max_draft_tokens == 0) {
    return Invalid("speculative.enable: this server has no MTP drafter");
  }
  if (speculative.has_enable() ? speculative.enable() : options_.speculative_by_default) {
    request->max_draft_tokens = static_cast<int>(
        speculative.max_draft_tokens() == 0
            ? options_.max_draft_tokens
            : std::min(speculative.max_draft_tokens(), options_.max_draft_tokens));
  }
  status = ResolveSampling(in.sampling(), vocab, &request->sampling);
  if (!status.ok()) return status;
  const v1::StoppingCriteria& stopping = in.stopping();
  if (static_cast<uint32_t>(stopping.stop_size()) > options_.max_stop_strings) {
    return Invalid(absl::StrCat("stopping.stop: at most ", options_.max_stop_strings, " strings"));
  }
  StopConditions stop;
  for (int i = 0; i < stopping.stop_size(); ++i) {
    if (stopping.stop(i).empty()) return Invalid(absl::StrCat("stopping.stop[", i, "]: empty"));
    stop.stop_strings.push_back(stopping.stop(i));
  }
  for (int i = 0; i < stopping.stop_token_ids_size(); ++i) {
    if (stopping.stop_token_ids(i) < 0 || stopping.stop_token_ids(i) >= vocab) {
      return Invalid(absl::StrCat("stopping.stop_token_ids[", i, "]: out of range"));
    }
    stop.stop_token_ids.push_back(stopping.stop_token_ids(i));
  }
  if (!stopping.ignore_eos()) {
    stop.stop_token_ids.insert(stop.stop_token_ids.end(), options_.end_of_turn_ids.begin(),
                               options_.end_of_turn_ids.end());
  }
  if (in.logprobs().top_logprobs() > options_.max_top_logprobs) {
    return Invalid(absl::StrCat("logprobs.top_logprobs: at most ", options_.max_top_logprobs));
  }
  request->logprobs = in.logprobs().logprobs();
  request->top_logprobs = in.logprobs().top_logprobs();
  // Fast path: a full queue refuses before preprocessing (Submit enforces the bound exactly).
  if (scheduler_->num_waiting() >= scheduler_->max_waiting()) {
    return QueueFull(context, queue_full);
  }

  // Preprocess: template, tokens, media.
  preprocess::v1::PreprocessRequest preprocess_request;
  *preprocess_request.mutable_prompt() = in.prompt();
  preprocess::v1::PreprocessResponse preprocessed;
  grpc::ClientContext preprocess_context;
  preprocess_context.set_deadline(context->deadline());
  status = preprocess_->Preprocess(&preprocess_context, preprocess_request, &preprocessed);
  if (!status.ok()) {
    // The preprocess service's INVALID_ARGUMENT / RESOURCE_EXHAUSTED pass through; its
    // unavailability is ours.
    return status;
  }
  request->prompt.assign(preprocessed.token_ids().begin(), preprocessed.token_ids().end());
  request->media.assign(preprocessed.media().begin(), preprocessed.media().end());
  const uint32_t room = static_cast<uint32_t>(
      std::max<int64_t>(0, options_.max_context - static_cast<int64_t>(request->prompt.size())));
  stop.max_tokens = std::min(stopping.has_max_tokens() ? stopping.max_tokens()
                                                       : options_.default_max_tokens,
                             room);
  if (stopping.has_max_tokens() && stopping.max_tokens() == 0) {
    return Invalid("stopping.max_tokens: must be > 0");
  }
  request->output = std::make_unique<OutputStream>(*tokenizer_, std::move(stop));
  auto call = std::make_shared<Call>();
  call->request = request;
  {
    absl::MutexLock lock(&mutex_);
    request->request_id =
        in.request_id().empty() ? absl::StrCat("req-", next_id_++) : in.request_id();
    const std::string key = ActiveKey(request->tenant, request->request_id);
    if (active_.count(key)) {
      return {grpc::StatusCode::ALREADY_EXISTS,
              absl::StrCat("request_id \"", request->request_id, "\" is in flight")};
    }
    active_[key] = request;
  }
  std::weak_ptr<Call> weak = call;
  request->emit = [weak](v1::GenerateResponse message) {
    if (std::shared_ptr<Call> c = weak.lock()) {
      absl::MutexLock lock(&c->mutex);
      c->messages.push_back(std::move(message));
    }
  };
  absl::Status submitted = scheduler_->Submit(request);
  if (!submitted.ok()) {
    Forget(*request);
    if (Scheduler::IsQueueFull(submitted)) return QueueFull(context, queue_full);
    return ToGrpcStatus(submitted);
  }
  *call_out = std::move(call);
  return grpc::Status::OK;
}

grpc::Status RouterService::QueueFull(grpc::ServerContext* context, bool* queue_full) const {
  context->AddTrailingMetadata("retry-after-ms", "1000");
  *queue_full = true;
  return {grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the queue is full (", scheduler_->max_waiting(),
                       " waiting requests); retry after about 1 s")};
}

void RouterService::Forget(const ScheduledRequest& request) {
  absl::MutexLock lock(&mutex_);
  active_.erase(ActiveKey(request.tenant, request.request_id));
}

grpc::Status RouterService::Authenticate(const grpc::ServerContext& context,
                                         std::optional<std::string>* tenant) const {
  tenant->reset();
  if (api_keys_ == nullptr) return grpc::Status::OK;
  absl::StatusOr<Caller> caller = api_keys_->Authenticate(context);
  if (!caller.ok()) {
    if (metrics_ != nullptr) metrics_->AddRejection(Rejection::kUnauthenticated);
    return ToGrpcStatus(caller.status());
  }
  *tenant = caller->tenant;
  return grpc::Status::OK;
}

grpc::Status RouterService::Generate(grpc::ServerContext* context, const v1::GenerateRequest* in,
                                     grpc::ServerWriter<v1::GenerateResponse>* writer) {
  std::shared_ptr<Call> call;
  grpc::Status status = StartCounted(context, *in, &call);
  if (!status.ok()) return status;
  v1::GenerateResponse message;
  grpc::Status result = grpc::Status::OK;
  while (true) {
    if (!call->Next(absl::Milliseconds(50), &message)) {
      if (context->IsCancelled()) call->request->cancelled = true;  // Freed next iteration.
      if (PastDeadline(*context) && !call->request->cancelled.exchange(true)) {
        result = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              "the deadline passed before the generation finished");
        if (metrics_ != nullptr) metrics_->AddRejection(Rejection::kDeadline);
      }
      continue;
    }
    const bool last = message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED;
    if (last && message.finish_reason() == v1::FINISH_REASON_ERROR) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, message.matched_stop());
      message.clear_matched_stop();
    }
    if (!writer->Write(message)) call->request->cancelled = true;
    if (last) break;
  }
  Forget(*call->request);
  return result;
}

grpc::Status RouterService::GenerateUnary(grpc::ServerContext* context,
                                          const v1::GenerateRequest* in,
                                          v1::GenerateResponse* response) {
  std::shared_ptr<Call> call;
  grpc::Status status = StartCounted(context, *in, &call);
  if (!status.ok()) return status;
  v1::GenerateResponse message;
  std::string text;
  bool late = false;
  while (true) {
    if (!call->Next(absl::Milliseconds(50), &message)) {
      if (context->IsCancelled()) call->request->cancelled = true;
      if (PastDeadline(*context) && !call->request->cancelled.exchange(true)) {
        late = true;
        if (metrics_ != nullptr) metrics_->AddRejection(Rejection::kDeadline);
      }
      continue;
    }
    text += message.text();
    response->mutable_token_ids()->MergeFrom(message.token_ids());
    response->mutable_logprobs()->MergeFrom(message.logprobs());
    if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) break;
  }
  Forget(*call->request);
  response->set_request_id(message.request_id());
  response->set_text(text);
  response->set_finish_reason(message.finish_reason());
  *response->mutable_usage() = message.usage();
  *response->mutable_timings() = message.timings();
  response->set_seed(message.seed());
  if (message.finish_reason() == v1::FINISH_REASON_ERROR) {
    return {grpc::StatusCode::UNAVAILABLE, message.matched_stop()};
  }
  if (late) {
    return {grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed before the generation finished"};
  }
  response->set_matched_stop(message.matched_stop());
  return grpc::Status::OK;
}

grpc::Status RouterService::Abort(grpc::ServerContext* context, const v1::AbortRequest* request,
                                  v1::AbortResponse* response) {
  std::optional<std::string> bound;
  grpc::Status status = Authenticate(*context, &bound);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mutex_);
  for (const std::string& id : request->request_ids()) {
    // A caller bound to a tenant reaches that tenant's requests only; others any tenant's.
    bool found = false;
    for (auto& [key, active] : active_) {
      if (active->request_id == id && (!bound || active->tenant == *bound)) {
        active->cancelled = true;
        found = true;
      }
    }
    if (found) {
      response->add_aborted(id);
    } else {
      response->add_not_found(id);
    }
  }
  return grpc::Status::OK;
}

grpc::Status RouterService::CountTokens(grpc::ServerContext* context,
                                        const v1::CountTokensRequest* request,
                                        v1::CountTokensResponse* response) {
  std::optional<std::string> tenant;
  if (grpc::Status status = Authenticate(*context, &tenant); !status.ok()) return status;
  grpc::ClientContext forward;
  forward.set_deadline(context->deadline());
  return preprocess_->CountTokens(&forward, *request, response);
}

grpc::Status RouterService::Tokenize(grpc::ServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) {
  std::optional<std::string> tenant;
  if (grpc::Status status = Authenticate(*context, &tenant); !status.ok()) return status;
  grpc::ClientContext forward;
  forward.set_deadline(context->deadline());
  return preprocess_->Tokenize(&forward, *request, response);
}

grpc::Status RouterService::GetModelInfo(grpc::ServerContext* context,
                                         const v1::GetModelInfoRequest*,
                                         v1::GetModelInfoResponse* response) {
  std::optional<std::string> tenant;
  if (grpc::Status status = Authenticate(*context, &tenant); !status.ok()) return status;
  response->set_model(options_.model_name);
  response->set_architecture(options_.architecture);
  response->set_max_context_tokens(options_.max_context);
  response->set_vocab_size(tokenizer_->vocab_size());
  response->add_modalities(v1::MODALITY_TEXT);
  response->add_modalities(v1::MODALITY_IMAGE);
  response->add_modalities(v1::MODALITY_AUDIO);
  v1::ModelLimits* limits = response->mutable_limits();
  limits->set_max_prompt_tokens(options_.max_context - 1);
  limits->set_max_tokens(options_.max_context - 1);
  limits->set_max_stop_strings(options_.max_stop_strings);
  limits->set_max_top_logprobs(options_.max_top_logprobs);
  response->set_tensor_parallel_size(options_.tensor_parallel_size);
  response->set_kv_block_size(options_.kv_block_size);
  response->set_num_kv_blocks(options_.num_kv_blocks);
  for (int32_t id : options_.end_of_turn_ids) response->add_eos_token_ids(id);
  v1::SpeculativeInfo* speculative = response->mutable_speculative();
  speculative->set_available(!options_.drafter.empty());
  speculative->set_drafter(options_.drafter);
  speculative->set_enabled_by_default(options_.speculative_by_default && !options_.drafter.empty());
  speculative->set_max_draft_tokens(options_.max_draft_tokens);
  return grpc::Status::OK;
}

}  // namespace gemma
