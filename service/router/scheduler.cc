#include "service/router/scheduler.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

constexpr char kQueueFullPayload[] = "type.gemma-serve/queue_full";

int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }

// Content keys: token ids; at media positions a digest of the media's bytes and the index in it
// (so two different images never share cached blocks). Token ids are < 2^31: the high bit marks
// media keys.
std::vector<uint64_t> PromptKeys(const std::vector<int32_t>& prompt,
                                 const std::vector<preprocess::v1::MediaItem>& media) {
  std::vector<uint64_t> keys(prompt.begin(), prompt.end());
  for (const preprocess::v1::MediaItem& item : media) {
    const uint64_t digest = std::hash<std::string>()(item.features().data());
    for (uint32_t i = 0; i < item.num_tokens() && item.token_offset() + i < keys.size(); ++i) {
      keys[item.token_offset() + i] = (uint64_t{1} << 63) | ((digest * 1000003u + i) >> 1);
    }
  }
  return keys;
}

// The end of a prefill chunk from `begin` of at most `budget` positions that does not split a
// media item (an item may push it past the budget rather than be split).
int ChunkEnd(const ScheduledRequest& request, int begin, int budget, int target) {
  int end = std::min(target, begin + budget);
  for (const preprocess::v1::MediaItem& item : request.media) {
    const int first = static_cast<int>(item.token_offset());
    const int last = first + static_cast<int>(item.num_tokens());
    if (first < end && end < last) end = first > begin ? first : last;
  }
  return std::min(end, target);
}

void ToProto(const BlockTables& tables, worker::v1::KvBlockTables* out) {
  out->mutable_full_attention()->Add(tables.full.begin(), tables.full.end());
  out->set_sliding_first_block(tables.sliding_first_block);
  out->mutable_sliding_attention()->Add(tables.sliding.begin(), tables.sliding.end());
}

// Tokens the request may still generate (max_tokens), or a large number when unbounded.
int TokensLeft(const ScheduledRequest& r) {
  const uint32_t max = r.output->max_tokens();
  if (max == 0) return std::numeric_limits<int>::max() / 2;
  return std::max(0, static_cast<int>(max) - static_cast<int>(r.output->generated()));
}

}  // namespace

// One sequence's part of the step being built.
struct Scheduler::Planned {
  std::shared_ptr<ScheduledRequest> request;
  bool prefill = false;
  int begin = 0;   // Prefill: the chunk; decode: the input token's position.
  int end = 0;
  int drafts = 0;  // Decode: k.
};

Scheduler::Scheduler(StepExecutor* executor, SchedulerOptions options, RouterMetrics* metrics)
    : executor_(executor), options_(options), metrics_(metrics),
      blocks_(std::make_unique<BlockManager>(options.kv, options.sliding_window)),
      policy_(options.speculation), num_full_blocks_(options.kv.num_full_blocks) {
  UpdateGauges();
}

absl::Status Scheduler::Submit(std::shared_ptr<ScheduledRequest> request) {
  const int length = static_cast<int>(request->prompt.size());
  if (length == 0) return absl::InvalidArgumentError("prompt: no tokens");
  if (length >= options_.max_context) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", length, " tokens leave no room in ",
                                                   "the context of ", options_.max_context));
  }
  const int needed = (length + 1 + options_.kv.block_size - 1) / options_.kv.block_size;
  if (needed > num_full_blocks_.load()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "prompt: ", length, " tokens need ", needed, " KV blocks; the pool has ",
        num_full_blocks_.load()));
  }
  if (!available_.load()) {
    return absl::UnavailableError("the worker group is down; the router is reconnecting");
  }
  request->prompt_keys = PromptKeys(request->prompt, request->media);
  absl::MutexLock lock(&mutex_);
  // Under the mutex, so concurrent submitters cannot overshoot the bound together.
  if (num_waiting_.load() >= options_.max_waiting) {
    absl::Status full = absl::ResourceExhaustedError(
        absl::StrCat("the queue is full (", options_.max_waiting, " waiting requests)"));
    full.SetPayload(kQueueFullPayload, absl::Cord("1"));
    return full;
  }
  incoming_.push_back(std::move(request));
  ++num_waiting_;
  return absl::OkStatus();
}

bool Scheduler::IsQueueFull(const absl::Status& status) {
  return status.GetPayload(kQueueFullPayload).has_value();
}

double Scheduler::kv_usage() const { return kv_usage_.load(); }

std::vector<int32_t> Scheduler::AllTokens(const ScheduledRequest& r) const {
  std::vector<int32_t> tokens = r.prompt;
  tokens.insert(tokens.end(), r.generated.begin(), r.generated.end());
  return tokens;
}

std::vector<uint64_t> Scheduler::Keys(const ScheduledRequest& r, int begin, int end) const {
  std::vector<uint64_t> keys;
  for (int p = begin; p < end; ++p) {
    keys.push_back(p < static_cast<int>(r.prompt_keys.size())
                       ? r.prompt_keys[p]
                       : static_cast<uint64_t>(r.generated[p - r.prompt_keys.size()]));
  }
  return keys;
}

void Scheduler::FreeSequence(ScheduledRequest& r) {
  if (r.sequence_id == 0) return;
  blocks_->Free(r.sequence_id);
  if (r.on_workers) to_release_.push_back(r.sequence_id);
  r.sequence_id = 0;
  r.on_workers = false;
  r.computed = 0;
}

void Scheduler::Complete(ScheduledRequest& r, v1::GenerateResponse message) {
  v1::Usage* usage = message.mutable_usage();
  usage->set_prompt_tokens(r.prompt.size());
  usage->set_cached_prompt_tokens(r.cached);
  usage->set_completion_tokens(r.output->generated());
  usage->set_drafted_tokens(r.acceptance.drafted);
  usage->set_accepted_tokens(r.acceptance.accepted);
  for (const preprocess::v1::MediaItem& item : r.media) {
    if (item.kind() == preprocess::v1::MEDIA_KIND_IMAGE) {
      usage->set_image_tokens(usage->image_tokens() + item.num_tokens());
    } else if (item.kind() == preprocess::v1::MEDIA_KIND_AUDIO) {
      usage->set_audio_tokens(usage->audio_tokens() + item.num_tokens());
    }
  }
  const absl::Time now = absl::Now();
  v1::Timings* timings = message.mutable_timings();
  timings->set_total_us(Micros(now - r.arrival));
  if (r.first_scheduled != absl::Time()) timings->set_queue_us(Micros(r.first_scheduled - r.arrival));
  if (r.first_token != absl::Time()) {
    timings->set_time_to_first_token_us(Micros(r.first_token - r.arrival));
    timings->set_decode_us(Micros(now - r.first_token));
  }
  message.set_seed(r.sampling.seed());
  FreeSequence(r);
  waiting_.Leave(r);
  if (metrics_ != nullptr) metrics_->AddFinished(message);
  r.emit(std::move(message));
}

void Scheduler::Finish(ScheduledRequest& r, v1::FinishReason reason, const absl::Status& error) {
  v1::GenerateResponse message;
  message.set_request_id(r.request_id);
  if (!r.output->finished()) message.set_text(r.output->Finish(reason).text);
  message.set_finish_reason(reason);
  if (!error.ok()) message.set_matched_stop(std::string(error.message()));
  Complete(r, std::move(message));
}

void Scheduler::PruneFinished() {
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const auto& r) { return r->sequence_id == 0; }),
                 running_.end());
  num_running_ = static_cast<int>(running_.size());
}

void Scheduler::FlushReleases() {
  if (to_release_.empty()) return;
  // Best effort: a failed release leaves state that ClearCache or a restart drops; workers
  // ignore unknown ids.
  (void)executor_->Release(to_release_);
  to_release_.clear();
}

void Scheduler::UpdateGauges() {
  {
    absl::MutexLock lock(&mutex_);  // Submit's bound reads it under the same mutex.
    num_waiting_ = waiting_.size() + static_cast<int>(incoming_.size());
  }
  num_running_ = static_cast<int>(running_.size());
  kv_usage_ = blocks_->full_usage();
  if (metrics_ == nullptr) return;
  metrics_->SetQueue(num_waiting_, num_running_, kv_usage_);
  const BlockPool &full = blocks_->full_pool(), &sliding = blocks_->sliding_pool();
  metrics_->SetKvBlocks(full.num_used(), full.num_free(), sliding.num_used(), sliding.num_free());
}

ScheduledRequest* Scheduler::Victim(ScheduledRequest* keep) const {
  ScheduledRequest* victim = nullptr;
  for (const std::shared_ptr<ScheduledRequest>& r : running_) {  // Later admitted wins ties.
    if (r->sequence_id == 0 || r->planned || r.get() == keep) continue;
    if (victim == nullptr || r->priority >= victim->priority) victim = r.get();
  }
  if (keep != nullptr && (victim == nullptr || victim->priority < keep->priority)) {
    return keep;
  }
  return victim;
}

void Scheduler::Preempt(ScheduledRequest* victim) {
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const auto& r) { return r.get() == victim; });
  std::shared_ptr<ScheduledRequest> request = *it;
  running_.erase(it);
  FreeSequence(*request);
  waiting_.Requeue(request);
  ++preemptions_;
  if (metrics_ != nullptr) metrics_->AddPreemption();
}

// A waiting request blocked by running ones of worse priority takes their place.
void Scheduler::PreemptForPriority() {
  while (!waiting_.empty()) {
    const ScheduledRequest& next = *waiting_.Next();
    const int length = static_cast<int>(next.prompt.size() + next.generated.size());
    const int needed = (length + 1 + options_.kv.block_size - 1) / options_.kv.block_size;
    const bool blocked = static_cast<int>(running_.size()) >= options_.max_running ||
                         blocks_->full_pool().num_free() < needed;
    if (!blocked) return;
    ScheduledRequest* victim = Victim(nullptr);
    if (victim == nullptr || victim->priority <= next.priority) return;
    Preempt(victim);
  }
}

void Scheduler::DropCancelled() {
  for (const auto& r : waiting_.RemoveIf([](const ScheduledRequest& r) { return r.cancelled.load(); })) {
    Finish(*r, v1::FINISH_REASON_ABORT, absl::OkStatus());
  }
  for (auto it = running_.begin(); it != running_.end();) {
    if ((*it)->cancelled.load()) {
      Finish(**it, v1::FINISH_REASON_ABORT, absl::OkStatus());
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

// One decode position per prefilled running sequence, plus its drafts.
void Scheduler::PlanDecodes(std::vector<Planned>* plan, worker::v1::StepRequest* step,
                            int* budget) {
  std::vector<std::shared_ptr<ScheduledRequest>> ready;
  for (const std::shared_ptr<ScheduledRequest>& r : running_) {
    if (r->sequence_id != 0 && r->computed >= r->prefill_target) ready.push_back(r);
  }
  const int batch = static_cast<int>(ready.size());
  int later = batch;  // Ready sequences not yet planned: each needs one position.
  for (const std::shared_ptr<ScheduledRequest>& r : ready) {
    --later;
    if (r->sequence_id == 0) continue;  // Preempted for an earlier one.
    if (r->computed + 1 >= options_.max_context) {  // No room for another position.
      Finish(*r, v1::FINISH_REASON_LENGTH, absl::OkStatus());
      continue;
    }
    if (*budget < 1) break;
    const int cap = std::min({r->max_draft_tokens, options_.max_context - r->computed - 2,
                              *budget - 1 - later, TokensLeft(*r) - 1});
    int k = policy_.Choose(&r->acceptance, cap, batch);
    while (k > 0 && !blocks_->CanAppend(r->sequence_id, k + 1)) --k;
    bool fits = blocks_->CanAppend(r->sequence_id, 1);
    while (!fits) {
      ScheduledRequest* victim = Victim(r.get());
      if (victim == nullptr) break;
      Preempt(victim);
      if (victim == r.get()) break;
      fits = blocks_->CanAppend(r->sequence_id, 1);
    }
    if (!fits || r->sequence_id == 0) continue;
    std::vector<uint64_t> keys = Keys(*r, r->computed, r->computed + 1);
    keys.resize(1 + k, 0);  // Draft positions: rewritten with the accepted tokens.
    if (!blocks_->Append(r->sequence_id, keys).ok()) continue;
    worker::v1::DecodeItem* item = step->add_decode();
    item->set_sequence_id(r->sequence_id);
    item->set_token_id(r->generated.back());
    item->set_position(r->computed);
    item->set_num_draft_tokens(k);
    ToProto(*blocks_->tables(r->sequence_id), item->mutable_blocks());
    r->planned = true;
    plan->push_back({r, false, r->computed, r->computed + 1 + k, k});
    *budget -= 1 + k;
  }
}

bool Scheduler::PlanChunk(const std::shared_ptr<ScheduledRequest>& r, std::vector<Planned>* plan,
                          worker::v1::StepRequest* step, int* budget) {
  const int end = ChunkEnd(*r, r->computed, *budget, r->prefill_target);
  // Positions before `reserved` already have blocks (revived from the prefix cache).
  const int reserved = std::max(r->computed, blocks_->length(r->sequence_id));
  if (end <= r->computed) return false;
  if (end > reserved) {
    if (!blocks_->CanAppend(r->sequence_id, end - reserved)) return false;
    if (!blocks_->Append(r->sequence_id, Keys(*r, reserved, end)).ok()) return false;
  }
  worker::v1::PrefillChunk* chunk = step->add_prefill();
  chunk->set_sequence_id(r->sequence_id);
  if (!r->on_workers) {
    worker::v1::SequenceStart* start = chunk->mutable_start();
    const std::vector<int32_t> tokens = AllTokens(*r);
    start->mutable_token_ids()->Add(tokens.begin(), tokens.end());
    start->set_num_prompt_tokens(r->prompt.size());
    for (const preprocess::v1::MediaItem& item : r->media) *start->add_media() = item;
    *start->mutable_sampling() = r->sampling;
    start->set_top_logprobs(r->top_logprobs);
    start->set_return_logprobs(r->logprobs);
  }
  chunk->set_begin(r->computed);
  chunk->set_end(end);
  chunk->set_sample(end == r->prefill_target);
  ToProto(*blocks_->tables(r->sequence_id), chunk->mutable_blocks());
  r->planned = true;
  plan->push_back({r, true, r->computed, end, 0});
  *budget -= end - r->computed;
  return true;
}

// Admissions in WaitingQueue order while slots, blocks and budget last.
void Scheduler::Admit(std::vector<Planned>* plan, worker::v1::StepRequest* step, int* budget) {
  while (!waiting_.empty() && *budget > 0 &&
         static_cast<int>(running_.size()) < options_.max_running) {
    std::shared_ptr<ScheduledRequest> r = waiting_.Next();
    const uint64_t id = next_sequence_id_++;
    const std::vector<int32_t> tokens = AllTokens(*r);
    const std::vector<uint64_t> keys = Keys(*r, 0, tokens.size());
    absl::StatusOr<int> cached = blocks_->AddSequence(id, keys);
    if (!cached.ok()) break;
    // A cached prefix that ends inside an image or audio clip would split it (a chunk never
    // does): start over with the prompt cut after the item's first position, so the revived
    // prefix ends at or before the item and the sliding window's blocks stay right for it.
    for (bool cut = true; cut && cached.ok();) {
      cut = false;
      for (const preprocess::v1::MediaItem& item : r->media) {
        const int first = static_cast<int>(item.token_offset());
        if (first < *cached && *cached < first + static_cast<int>(item.num_tokens())) {
          blocks_->Free(id);
          cached = blocks_->AddSequence(
              id, absl::MakeConstSpan(keys).subspan(0, static_cast<size_t>(first) + 1));
          cut = true;
          break;
        }
      }
    }
    if (!cached.ok()) break;
    r->sequence_id = id;
    r->computed = *cached;
    r->prefill_target = static_cast<int>(tokens.size());
    if (!PlanChunk(r, plan, step, budget)) {
      blocks_->Free(id);
      r->sequence_id = 0;
      break;
    }
    if (r->first_scheduled == absl::Time()) {
      r->first_scheduled = absl::Now();
      r->cached = *cached;
      if (metrics_ != nullptr) metrics_->AddPrefixQuery(r->prompt.size(), *cached);
    }
    waiting_.PopNext();
    running_.push_back(r);
  }
}

bool Scheduler::RunOnce() {
  {
    absl::MutexLock lock(&mutex_);
    while (!incoming_.empty()) {
      waiting_.Arrive(std::move(incoming_.front()));
      incoming_.pop_front();
    }
  }
  if (!available_.load()) {
    TryRecover();
    UpdateGauges();
    return false;
  }
  DropCancelled();
  PreemptForPriority();

  worker::v1::StepRequest step;
  std::vector<Planned> plan;
  int budget = options_.max_batch_tokens;
  PlanDecodes(&plan, &step, &budget);
  // Prefill chunks: sequences already running, then admissions.
  for (const std::shared_ptr<ScheduledRequest>& r : running_) {
    if (budget <= 0) break;
    if (r->sequence_id != 0 && r->computed < r->prefill_target && !r->planned) {
      PlanChunk(r, &plan, &step, &budget);
    }
  }
  Admit(&plan, &step, &budget);

  FlushReleases();
  PruneFinished();
  if (plan.empty()) {
    UpdateGauges();
    return !running_.empty() || !waiting_.empty();
  }
  step.set_step_id(next_step_id_++);
  UpdateGauges();
  absl::StatusOr<worker::v1::StepResponse> response = executor_->Step(step);
  for (Planned& p : plan) p.request->planned = false;
  if (!response.ok()) {
    FailGroup(response.status());
    return true;
  }
  Apply(plan, *response);
  PruneFinished();
  FlushReleases();
  UpdateGauges();
  return true;
}

void Scheduler::Apply(const std::vector<Planned>& plan, const worker::v1::StepResponse& response) {
  std::unordered_map<uint64_t, const worker::v1::SequenceOutput*> outputs;
  for (const worker::v1::SequenceOutput& output : response.outputs()) {
    outputs[output.sequence_id()] = &output;
  }
  // 1. KV: what the workers now hold, rejected drafts dropped.
  for (const Planned& p : plan) {
    ScheduledRequest& r = *p.request;
    r.on_workers = true;
    auto found = outputs.find(r.sequence_id);
    const worker::v1::SequenceOutput* output = found == outputs.end() ? nullptr : found->second;
    if (p.prefill) {
      r.computed = p.end;
      waiting_.Charge(r, p.end - p.begin);
    } else if (output == nullptr || output->token_ids_size() == 0) {
      Finish(r, v1::FINISH_REASON_ERROR,
             absl::InternalError(absl::StrCat("worker rank 0 returned no tokens for sequence ",
                                              r.sequence_id)));
      continue;
    } else {
      const int accepted =
          std::min<int>({static_cast<int>(output->num_accepted()), p.drafts,
                         output->token_ids_size() - 1});
      r.computed = p.begin + 1 + accepted;
      if (p.drafts > 0) {
        absl::Status status = blocks_->Truncate(r.sequence_id, r.computed);
        if (status.ok()) {
          std::vector<uint64_t> keys(output->token_ids().begin(),
                                     output->token_ids().begin() + accepted);
          status = blocks_->RewriteUncommitted(r.sequence_id, p.begin + 1, keys);
        }
        if (!status.ok()) {
          Finish(r, v1::FINISH_REASON_ERROR, status);
          continue;
        }
        policy_.Record(&r.acceptance, p.drafts, accepted);
        if (metrics_ != nullptr) metrics_->AddDraft(p.drafts, accepted);
      }
      waiting_.Charge(r, output->token_ids_size());
    }
    blocks_->Commit(r.sequence_id);
  }
  // 2. Tokens to the clients.
  for (const Planned& p : plan) {
    ScheduledRequest& r = *p.request;
    auto found = outputs.find(r.sequence_id);
    if (r.sequence_id == 0 || found == outputs.end()) continue;
    EmitOutput(r, *found->second);
  }
}

void Scheduler::EmitOutput(ScheduledRequest& r, const worker::v1::SequenceOutput& output) {
  const absl::Time now = absl::Now();
  if (r.first_token == absl::Time()) {
    r.first_token = now;
  } else if (metrics_ != nullptr) {
    metrics_->AddInterToken(now - r.last_token, output.token_ids_size());
  }
  r.last_token = now;
  r.generated.insert(r.generated.end(), output.token_ids().begin(), output.token_ids().end());
  OutputStream::Delta delta = r.output->Push(output.token_ids());
  v1::GenerateResponse message;
  message.set_request_id(r.request_id);
  message.set_text(delta.text);
  message.mutable_token_ids()->Add(delta.token_ids.begin(), delta.token_ids.end());
  for (int i = 0; i < output.logprobs_size() && i < static_cast<int>(delta.token_ids.size()); ++i) {
    const worker::v1::TokenLogprobs& in = output.logprobs(i);
    v1::TokenLogprob* out = message.add_logprobs();
    out->set_token_id(in.token_id());
    out->set_logprob(in.logprob());
    for (int k = 0; k < in.top_token_ids_size(); ++k) {
      v1::TopLogprob* top = out->add_top();
      top->set_token_id(in.top_token_ids(k));
      top->set_logprob(in.top_logprobs(k));
    }
  }
  if (r.output->finished()) {  // The last message carries this text too.
    message.set_finish_reason(delta.finish);
    message.set_matched_stop(delta.matched_stop);
    Complete(r, std::move(message));
    return;
  }
  const bool has_content = !message.text().empty() || message.token_ids_size() > 0;
  if (r.computed + 1 >= options_.max_context) {
    if (has_content) r.emit(message);
    Finish(r, v1::FINISH_REASON_LENGTH, absl::OkStatus());
    return;
  }
  if (has_content) r.emit(std::move(message));
}

void Scheduler::FailGroup(const absl::Status& status) {
  const absl::Status failure =
      absl::UnavailableError(absl::StrCat("worker group failed: ", status.message()));
  for (const std::shared_ptr<ScheduledRequest>& r : running_) {
    Finish(*r, v1::FINISH_REASON_ERROR, failure);
  }
  running_.clear();
  for (const auto& r : waiting_.RemoveIf([](const ScheduledRequest&) { return true; })) {
    Finish(*r, v1::FINISH_REASON_ERROR, failure);
  }
  // Nothing the workers held can be trusted: start over with empty pools after recovery.
  to_release_.clear();
  blocks_ = std::make_unique<BlockManager>(options_.kv, options_.sliding_window);
  available_ = false;
  next_recovery_ = absl::Now();
  UpdateGauges();
}

void Scheduler::TryRecover() {
  for (const auto& r : waiting_.RemoveIf([](const ScheduledRequest&) { return true; })) {
    Finish(*r, v1::FINISH_REASON_ERROR,
           absl::UnavailableError("the worker group is down; the router is reconnecting"));
  }
  if (absl::Now() < next_recovery_) return;
  next_recovery_ = absl::Now() + options_.recovery_interval;
  absl::StatusOr<worker::v1::KvCacheGeometry> geometry = executor_->Recover();
  if (!geometry.ok()) return;
  options_.kv.num_full_blocks = static_cast<int>(geometry->num_full_blocks());
  options_.kv.num_sliding_blocks = static_cast<int>(geometry->num_sliding_blocks());
  num_full_blocks_ = options_.kv.num_full_blocks;
  blocks_ = std::make_unique<BlockManager>(options_.kv, options_.sliding_window);
  available_ = true;
}

}  // namespace gemma
