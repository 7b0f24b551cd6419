#include "service/router/scheduler.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

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

}  // namespace

struct Scheduler::Planned {
  std::shared_ptr<ScheduledRequest> request;
  bool prefill = false;
  int end = 0;  // Prefill: the chunk's end.
};

Scheduler::Scheduler(StepExecutor* executor, SchedulerOptions options)
    : executor_(executor), options_(options), blocks_(options.kv, options.sliding_window) {}

absl::Status Scheduler::Submit(std::shared_ptr<ScheduledRequest> request) {
  const int length = static_cast<int>(request->prompt.size());
  if (length == 0) return absl::InvalidArgumentError("prompt: no tokens");
  if (length >= options_.max_context) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", length, " tokens leave no room in ",
                                                   "the context of ", options_.max_context));
  }
  const int needed = (length + 1 + options_.kv.block_size - 1) / options_.kv.block_size;
  if (needed > options_.kv.num_full_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "prompt: ", length, " tokens need ", needed, " KV blocks; the pool has ",
        options_.kv.num_full_blocks));
  }
  request->prompt_keys = PromptKeys(request->prompt, request->media);
  absl::MutexLock lock(&mutex_);
  incoming_.push_back(std::move(request));
  ++num_waiting_;
  return absl::OkStatus();
}

int Scheduler::num_waiting() const { return num_waiting_.load(); }
int Scheduler::num_running() const { return num_running_.load(); }
double Scheduler::kv_usage() const { return blocks_.full_usage(); }

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
  blocks_.Free(r.sequence_id);
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

bool Scheduler::Preempt(const ScheduledRequest* keep) {
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if (it->get() == keep) continue;
    std::shared_ptr<ScheduledRequest> victim = *it;
    running_.erase(std::next(it).base());
    FreeSequence(*victim);
    waiting_.push_front(victim);
    ++preemptions_;
    --num_running_;
    ++num_waiting_;
    return true;
  }
  return false;
}

bool Scheduler::RunOnce() {
  {
    absl::MutexLock lock(&mutex_);
    while (!incoming_.empty()) {
      waiting_.push_back(std::move(incoming_.front()));
      incoming_.pop_front();
    }
  }
  // Cancelled requests leave first.
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->cancelled.load()) {
      Finish(**it, v1::FINISH_REASON_ABORT, absl::OkStatus());
      it = waiting_.erase(it);
      --num_waiting_;
    } else {
      ++it;
    }
  }
  for (auto it = running_.begin(); it != running_.end();) {
    if ((*it)->cancelled.load()) {
      Finish(**it, v1::FINISH_REASON_ABORT, absl::OkStatus());
      it = running_.erase(it);
      --num_running_;
    } else {
      ++it;
    }
  }

  worker::v1::StepRequest step;
  std::vector<Planned> plan;
  int budget = options_.max_batch_tokens;
  // 1. One decode position per prefilled running sequence.
  const std::vector<std::shared_ptr<ScheduledRequest>> snapshot = running_;
  for (const std::shared_ptr<ScheduledRequest>& r : snapshot) {
    if (r->sequence_id == 0 || r->computed < r->prefill_target) continue;  // Preempted/prefilling.
    if (r->computed + 1 >= options_.max_context) {  // No room for another position.
      Finish(*r, v1::FINISH_REASON_LENGTH, absl::OkStatus());
      continue;
    }
    if (budget < 1) break;
    bool fits = blocks_.CanAppend(r->sequence_id, 1);
    while (!fits && Preempt(r.get())) fits = blocks_.CanAppend(r->sequence_id, 1);
    if (!fits || r->sequence_id == 0) continue;
    if (!blocks_.Append(r->sequence_id, Keys(*r, r->computed, r->computed + 1)).ok()) continue;
    worker::v1::DecodeItem* item = step.add_decode();
    item->set_sequence_id(r->sequence_id);
    item->set_token_id(r->generated.back());
    item->set_position(r->computed);
    ToProto(*blocks_.tables(r->sequence_id), item->mutable_blocks());
    plan.push_back({r, false, 0});
    --budget;
  }
  // 2. Prefill chunks: sequences already running, then admissions in arrival order.
  auto add_chunk = [&](const std::shared_ptr<ScheduledRequest>& r) -> bool {
    const int end = ChunkEnd(*r, r->computed, budget, r->prefill_target);
    // Positions before `reserved` already have blocks (revived from the prefix cache).
    const int reserved = std::max(r->computed, blocks_.length(r->sequence_id));
    if (end <= r->computed) return false;
    if (end > reserved) {
      if (!blocks_.CanAppend(r->sequence_id, end - reserved)) return false;
      if (!blocks_.Append(r->sequence_id, Keys(*r, reserved, end)).ok()) return false;
    }
    worker::v1::PrefillChunk* chunk = step.add_prefill();
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
    ToProto(*blocks_.tables(r->sequence_id), chunk->mutable_blocks());
    plan.push_back({r, true, end});
    budget -= end - r->computed;
    return true;
  };
  for (const std::shared_ptr<ScheduledRequest>& r : running_) {
    if (budget <= 0) break;
    if (r->sequence_id != 0 && r->computed < r->prefill_target &&
        (plan.empty() || std::none_of(plan.begin(), plan.end(),
                                      [&](const Planned& p) { return p.request == r; }))) {
      add_chunk(r);
    }
  }
  while (!waiting_.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < options_.max_running) {
    std::shared_ptr<ScheduledRequest> r = waiting_.front();
    const uint64_t id = next_sequence_id_++;
    const std::vector<int32_t> tokens = AllTokens(*r);
    const std::vector<uint64_t> keys = Keys(*r, 0, tokens.size());
    absl::StatusOr<int> cached = blocks_.AddSequence(id, keys);
    if (!cached.ok()) break;
    // A cached prefix that ends inside an image or audio clip would split it (a chunk never
    // does): start over with the prompt cut after the item's first position, so the revived
    // prefix ends at or before the item and the sliding window's blocks stay right for it.
    for (bool cut = true; cut && cached.ok();) {
      cut = false;
      for (const preprocess::v1::MediaItem& item : r->media) {
        const int first = static_cast<int>(item.token_offset());
        if (first < *cached && *cached < first + static_cast<int>(item.num_tokens())) {
          blocks_.Free(id);
          cached = blocks_.AddSequence(
              id, absl::MakeConstSpan(keys).subspan(0, static_cast<size_t>(first) + 1));
          cut = true;
          break;
        }
      }
    }
    if (!cached.ok()) break;
    r->sequence_id = id;
    r->computed = *cached;
    if (r->generated.empty()) r->cached = *cached;
    r->prefill_target = static_cast<int>(tokens.size());
    if (!add_chunk(r)) {
      blocks_.Free(id);
      r->sequence_id = 0;
      break;
    }
    if (r->first_scheduled == absl::Time()) r->first_scheduled = absl::Now();
    waiting_.pop_front();
    running_.push_back(r);
    --num_waiting_;
    ++num_running_;
  }

  FlushReleases();
  PruneFinished();
  if (plan.empty()) return !running_.empty() || !waiting_.empty();

  step.set_step_id(next_step_id_++);
  absl::StatusOr<worker::v1::StepResponse> response = executor_->Step(step);
  if (!response.ok()) {
    for (Planned& p : plan) {
      if (p.request->sequence_id == 0) continue;
      Finish(*p.request, v1::FINISH_REASON_ERROR, response.status());
    }
    PruneFinished();
    return true;
  }
  for (Planned& p : plan) {
    ScheduledRequest& r = *p.request;
    r.on_workers = true;
    r.computed = p.prefill ? p.end : r.computed + 1;
    blocks_.Commit(r.sequence_id);
  }
  for (const worker::v1::SequenceOutput& output : response->outputs()) {
    auto it = std::find_if(plan.begin(), plan.end(), [&](const Planned& p) {
      return p.request->sequence_id == output.sequence_id();
    });
    if (it == plan.end()) continue;
    ScheduledRequest& r = *it->request;
    if (r.first_token == absl::Time()) r.first_token = absl::Now();
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
      continue;
    }
    if (r.computed + 1 >= options_.max_context) {
      if (!message.text().empty() || message.token_ids_size() > 0) r.emit(message);
      Finish(r, v1::FINISH_REASON_LENGTH, absl::OkStatus());
      continue;
    }
    if (!message.text().empty() || message.token_ids_size() > 0) r.emit(std::move(message));
  }
  PruneFinished();
  FlushReleases();
  return true;
}

}  // namespace gemma
