#include "service/worker/worker_service.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/speculative_step.h"
#include "service/common/status_util.h"

namespace gemma {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NanosSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

BlockTables FromProto(const worker::v1::KvBlockTables& tables) {
  BlockTables blocks;
  blocks.full.assign(tables.full_attention().begin(), tables.full_attention().end());
  blocks.sliding_first_block = static_cast<int32_t>(tables.sliding_first_block());
  blocks.sliding.assign(tables.sliding_attention().begin(), tables.sliding_attention().end());
  return blocks;
}

SamplingParams FromProto(const v1::SamplingParams& p, uint32_t top_logprobs, bool logprobs) {
  SamplingParams params;
  if (p.has_temperature()) params.temperature = p.temperature();
  if (p.has_top_k()) params.top_k = static_cast<int>(p.top_k());
  if (p.has_top_p()) params.top_p = p.top_p();
  if (p.has_min_p()) params.min_p = p.min_p();
  if (p.has_seed()) params.seed = p.seed();
  if (p.has_repetition_penalty()) params.repetition_penalty = p.repetition_penalty();
  if (p.has_presence_penalty()) params.presence_penalty = p.presence_penalty();
  if (p.has_frequency_penalty()) params.frequency_penalty = p.frequency_penalty();
  params.suppress_tokens.assign(p.suppress_token_ids().begin(), p.suppress_token_ids().end());
  params.logprobs = logprobs || top_logprobs > 0;
  params.top_logprobs = static_cast<int>(top_logprobs);
  return params;
}

void AddLogprobs(const SampledToken& token, worker::v1::SequenceOutput* output) {
  worker::v1::TokenLogprobs* logprobs = output->add_logprobs();
  logprobs->set_token_id(token.token);
  logprobs->set_logprob(token.logprob);
  for (const auto& [id, logprob] : token.top) {
    logprobs->add_top_token_ids(id);
    logprobs->add_top_logprobs(logprob);
  }
}

}  // namespace

WorkerService::WorkerService(ModelBackend& backend, WorkerOptions options,
                             monitoring::Registry* registry)
    : backend_(backend),
      options_(std::move(options)),
      communicator_(backend.tensor_parallel().world_size > 1
                        ? backend.tensor_parallel().communicator
                        : nullptr),
      rank_label_(std::to_string(backend.tensor_parallel().rank)),
      step_seconds_(registry->AddHistogram("gemma_worker_step_seconds", "Worker step time by kind.",
                                           {"rank", "kind"},
                                           monitoring::InterTokenLatencyBuckets())),
      step_sequences_(registry
                          ->AddHistogram("gemma_worker_step_sequences", "Sequences per step.",
                                         {"rank"}, {1, 2, 4, 8, 16, 32, 64, 128, 256})
                          ->WithLabels({rank_label_})),
      step_tokens_(registry
                       ->AddHistogram("gemma_worker_step_tokens",
                                      "Tokens per step (prefill, decode and drafts).", {"rank"},
                                      {1, 4, 16, 64, 256, 1024, 4096, 16384})
                       ->WithLabels({rank_label_})),
      communication_seconds_(registry
                                 ->AddCounter("gemma_worker_communication_seconds_total",
                                              "Time spent in tensor-parallel collectives.",
                                              {"rank"})
                                 ->WithLabels({rank_label_})),
      draft_tokens_(registry
                        ->AddCounter("gemma_worker_draft_tokens_total",
                                     "Tokens proposed by the MTP drafter.", {"rank"})
                        ->WithLabels({rank_label_})),
      accepted_tokens_(registry
                           ->AddCounter("gemma_worker_accepted_tokens_total",
                                        "Drafted tokens accepted by the target.", {"rank"})
                           ->WithLabels({rank_label_})),
      sequences_gauge_(registry->AddGauge("gemma_worker_sequences", "Sequences held.", {"rank"})
                           ->WithLabels({rank_label_})),
      kv_blocks_(registry->AddGauge("gemma_worker_kv_cache_blocks",
                                    "KV cache pool sizes in blocks.", {"rank", "pool"})),
      kv_blocks_used_(registry->AddGauge("gemma_worker_kv_cache_blocks_used",
                                         "KV blocks the held sequences' tables reference.",
                                         {"rank", "pool"})) {}

void WorkerService::UpdateHeld() {
  sequences_gauge_->Set(static_cast<double>(sequences_.size()));
  std::set<int32_t> full, sliding;
  for (const auto& [id, sequence] : sequences_) {
    full.insert(sequence->blocks.full.begin(), sequence->blocks.full.end());
    sliding.insert(sequence->blocks.sliding.begin(), sequence->blocks.sliding.end());
  }
  kv_blocks_used_->WithLabels({rank_label_, "full"})->Set(static_cast<double>(full.size()));
  kv_blocks_used_->WithLabels({rank_label_, "sliding"})->Set(static_cast<double>(sliding.size()));
}

void WorkerService::Observe(const worker::v1::StepRequest& request,
                            const worker::v1::StepResponse& response) {
  bool speculative = false;
  int tokens = 0;
  for (const worker::v1::PrefillChunk& chunk : request.prefill())
    tokens += chunk.end() - chunk.begin();
  for (const worker::v1::DecodeItem& item : request.decode()) {
    tokens += 1 + item.num_draft_tokens();
    speculative |= item.num_draft_tokens() > 0;
  }
  const char* kind = request.prefill_size() > 0 && request.decode_size() > 0 ? "mixed"
                     : request.prefill_size() > 0                            ? "prefill"
                     : speculative                                           ? "speculative"
                                                                             : "decode";
  step_seconds_->WithLabels({rank_label_, kind})->Observe(response.timings().total_ns() / 1e9);
  step_sequences_->Observe(request.prefill_size() + request.decode_size());
  step_tokens_->Observe(tokens);
  communication_seconds_->Increment(response.timings().all_reduce_ns() / 1e9);
  for (const worker::v1::SequenceOutput& output : response.outputs()) {
    draft_tokens_->Increment(output.num_drafted());
    accepted_tokens_->Increment(output.num_accepted());
  }
}

int WorkerService::num_sequences() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(sequences_.size());
}

worker::v1::KvCacheGeometry WorkerService::Geometry() const {
  worker::v1::KvCacheGeometry geometry;
  if (!backend_.has_cache()) return geometry;
  const Gemma4Config& c = backend_.shard_config();
  uint64_t full_bytes = 0, sliding_bytes = 0;
  for (LayerType type : c.layer_types) {
    const AttentionGeometry& g = c.geometry(type);
    const uint64_t bytes = uint64_t{2} * cache_options_.block_size * g.num_kv_heads * g.head_dim *
                           backend_.kv_element_bytes();
    (type == LayerType::kFull ? full_bytes : sliding_bytes) += bytes;
  }
  geometry.set_block_size(cache_options_.block_size);
  geometry.set_num_full_blocks(cache_options_.num_full_blocks);
  geometry.set_num_sliding_blocks(cache_options_.num_sliding_blocks);
  geometry.set_sliding_window(c.sliding_window);
  geometry.set_bytes_per_full_block(full_bytes);
  geometry.set_bytes_per_sliding_block(sliding_bytes);
  return geometry;
}

grpc::Status WorkerService::Info(grpc::ServerContext*, const worker::v1::InfoRequest*,
                                 worker::v1::InfoResponse* response) {
  const Gemma4Config& c = backend_.config();
  response->set_model(options_.model_name);
  response->set_architecture(c.architecture);
  response->set_drafter(backend_.has_drafter() ? options_.drafter_name : "");
  response->set_rank(backend_.tensor_parallel().rank);
  response->set_world_size(backend_.tensor_parallel().world_size);
  response->set_device(backend_.device());
  response->set_weight_dtype(backend_.weight_dtype());
  response->set_vocab_size(c.vocab_size);
  response->set_max_position(c.max_position);
  absl::MutexLock lock(&mutex_);
  *response->mutable_kv_cache() = Geometry();
  response->set_warmed_up(backend_.has_cache());
  return grpc::Status::OK;
}

grpc::Status WorkerService::Warmup(grpc::ServerContext*, const worker::v1::WarmupRequest* request,
                                   worker::v1::WarmupResponse* response) {
  if (request->max_batch_tokens() == 0 || request->max_sequences() == 0) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "max_batch_tokens and max_sequences must be > 0"};
  }
  if (request->kv_memory_fraction() < 0 || request->kv_memory_fraction() > 1) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "kv_memory_fraction must be in (0, 1]"};
  }
  absl::MutexLock lock(&mutex_);
  cache_options_ = KvCacheOptions{options_.block_size, 0, 0};
  absl::Status allocated = backend_.AllocateCache(cache_options_);  // Empty: only to size blocks.
  if (!allocated.ok()) return ToGrpcStatus(allocated);
  worker::v1::KvCacheGeometry unit = Geometry();
  const double fraction = request->kv_memory_fraction() > 0 ? request->kv_memory_fraction() : 1.0;
  const double budget = options_.kv_cache_bytes * fraction;
  const int window_blocks = backend_.config().sliding_window / options_.block_size + 2;
  int full = static_cast<int>(request->num_full_blocks());
  int sliding = static_cast<int>(request->num_sliding_blocks());
  if (sliding == 0) {
    sliding = std::max<int>(
        static_cast<int>(request->max_sequences()) * window_blocks,
        static_cast<int>(budget / 4 / std::max<uint64_t>(1, unit.bytes_per_sliding_block())));
  }
  if (full == 0) {
    const double left = budget - double(sliding) * unit.bytes_per_sliding_block();
    full =
        std::max<int>(static_cast<int>(request->max_batch_tokens()) / options_.block_size + 1,
                      static_cast<int>(left / std::max<uint64_t>(1, unit.bytes_per_full_block())));
  }
  cache_options_ = KvCacheOptions{options_.block_size, full, sliding};
  backend_.ReleaseCache();
  allocated = backend_.AllocateCache(cache_options_);
  if (!allocated.ok()) return ToGrpcStatus(allocated);

  // One pass at most the size of the largest step (and of what the pools hold), on every rank.
  const int tokens =
      std::min<int>({static_cast<int>(request->max_batch_tokens()), full * options_.block_size,
                     sliding * options_.block_size, backend_.config().max_position});
  std::vector<int32_t> ids(tokens, backend_.config().bos_token_id);
  BlockTables tables = ConsecutiveBlockTables(tokens, options_.block_size);
  std::vector<float> logits;
  const Clock::time_point start = Clock::now();
  absl::Status status = backend_.Forward({{ids, 0, &tables, false}}, &logits, nullptr, nullptr);
  if (!status.ok()) {
    backend_.ReleaseCache();
    return ToGrpcStatus(status);
  }
  response->set_warmup_step_ns(NanosSince(start));
  *response->mutable_kv_cache() = Geometry();
  kv_blocks_->WithLabels({rank_label_, "full"})->Set(full);
  kv_blocks_->WithLabels({rank_label_, "sliding"})->Set(sliding);
  if (options_.set_serving) options_.set_serving(true);
  return grpc::Status::OK;
}

absl::Status WorkerService::CheckSameStep(uint64_t step_id) {
  if (communicator_ == nullptr) return absl::OkStatus();
  const float mine = static_cast<float>(step_id & 0xFFFFFF);  // Exact in a float.
  std::vector<float> all(communicator_->world_size());
  absl::Status status = communicator_->AllGather(&mine, 1, all.data());
  if (!status.ok()) return status;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r] != mine) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rank ", backend_.tensor_parallel().rank, " runs step ", step_id, " (low bits ", mine,
          ") while rank ", r, " runs a step with low bits ", all[r]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WorkerService::Sequence>> WorkerService::StartSequence(
    const worker::v1::SequenceStart& start) {
  const Gemma4Config& c = backend_.config();
  auto sequence = std::make_unique<Sequence>();
  sequence->tokens.assign(start.token_ids().begin(), start.token_ids().end());
  if (sequence->tokens.empty() || start.num_prompt_tokens() > sequence->tokens.size()) {
    return absl::InvalidArgumentError(
        "start: needs token ids and num_prompt_tokens <= their count");
  }
  for (int32_t id : sequence->tokens) {
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("start: token id ", id, " out of range"));
    }
  }
  const std::vector<int32_t> prompt(sequence->tokens.begin(),
                                    sequence->tokens.begin() + start.num_prompt_tokens());
  sequence->penalties = PenaltyState(prompt);
  for (size_t i = start.num_prompt_tokens(); i < sequence->tokens.size(); ++i) {
    sequence->penalties.AddOutput(sequence->tokens[i]);
  }
  sequence->output_index = sequence->tokens.size() - start.num_prompt_tokens();
  sequence->sampling = FromProto(start.sampling(), start.top_logprobs(), start.return_logprobs());
  absl::Status params = ValidateSamplingParams(sequence->sampling, c.vocab_size);
  if (!params.ok()) return params;
  for (int m = 0; m < start.media_size(); ++m) {
    const preprocess::v1::MediaItem& item = start.media(m);
    const bool image = item.kind() == preprocess::v1::MEDIA_KIND_IMAGE;
    const int width = image ? c.media.patch_dim : c.media.audio_frame;
    const preprocess::v1::Tensor& tensor = item.features();
    const size_t values = size_t{item.num_tokens()} * width;
    const bool u8 = tensor.dtype() == preprocess::v1::TENSOR_DTYPE_UINT8;
    if (item.num_tokens() == 0 || tensor.data().size() != values * (u8 ? 1 : sizeof(float)) ||
        (!u8 && tensor.dtype() != preprocess::v1::TENSOR_DTYPE_FLOAT32)) {
      return absl::InvalidArgumentError(absl::StrCat("start.media[", m, "]: features must be ",
                                                     item.num_tokens(), " x ", width,
                                                     " UINT8 or FLOAT32 values"));
    }
    std::vector<float> features(values);
    if (u8) {
      for (size_t i = 0; i < values; ++i) {
        features[i] = static_cast<uint8_t>(tensor.data()[i]) / 255.f;
      }
    } else {
      std::memcpy(features.data(), tensor.data().data(), values * sizeof(float));
    }
    sequence->media_features.push_back(std::move(features));
    sequence->media.push_back(MediaSpan{
        image ? MediaKind::kImage : MediaKind::kAudio, static_cast<int>(item.token_offset()),
        static_cast<int>(item.num_tokens()), nullptr, static_cast<int>(item.grid_width())});
  }
  for (size_t m = 0; m < sequence->media.size(); ++m) {
    sequence->media[m].features = sequence->media_features[m].data();
  }
  return sequence;
}

grpc::Status WorkerService::Step(grpc::ServerContext*, const worker::v1::StepRequest* request,
                                 worker::v1::StepResponse* response) {
  absl::MutexLock lock(&mutex_);
  const Clock::time_point start = Clock::now();
  response->set_step_id(request->step_id());
  response->set_rank(backend_.tensor_parallel().rank);
  absl::Status status = RunStep(*request, response);
  response->mutable_timings()->set_total_ns(NanosSince(start));
  if (!status.ok()) response->clear_outputs();
  if (status.ok()) Observe(*request, *response);
  UpdateHeld();
  return ToGrpcStatus(status);
}

absl::Status WorkerService::RunStep(const worker::v1::StepRequest& request,
                                    worker::v1::StepResponse* response) {
  if (!backend_.has_cache()) return absl::FailedPreconditionError("Warmup must precede Step");
  const Gemma4Config& c = backend_.config();
  const bool reports = backend_.tensor_parallel().rank == 0;

  // Validate everything (identically on every rank) before the first collective.
  std::map<uint64_t, std::unique_ptr<Sequence>> started;
  for (int i = 0; i < request.prefill_size(); ++i) {
    const worker::v1::PrefillChunk& chunk = request.prefill(i);
    const std::string where = absl::StrCat("prefill[", i, "] (sequence ", chunk.sequence_id(), ")");
    const bool known = sequences_.count(chunk.sequence_id()) || started.count(chunk.sequence_id());
    if (chunk.has_start()) {
      if (known) return absl::InvalidArgumentError(where + ": already started");
      auto sequence = StartSequence(chunk.start());
      if (!sequence.ok())
        return absl::Status(sequence.status().code(),
                            absl::StrCat(where, ": ", sequence.status().message()));
      started[chunk.sequence_id()] = *std::move(sequence);
    } else if (!known) {
      return absl::InvalidArgumentError(where + ": unknown sequence (its first chunk needs start)");
    }
    const Sequence& sequence = started.count(chunk.sequence_id())
                                   ? *started[chunk.sequence_id()]
                                   : *sequences_[chunk.sequence_id()];
    if (chunk.begin() >= chunk.end() || chunk.end() > sequence.tokens.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": range [", chunk.begin(), ", ",
                                                     chunk.end(), ") outside its ",
                                                     sequence.tokens.size(), " tokens"));
    }
    for (const MediaSpan& span : sequence.media) {
      const int end = span.position + span.num_tokens;
      if (span.position < static_cast<int>(chunk.end()) && end > static_cast<int>(chunk.begin()) &&
          (span.position < static_cast<int>(chunk.begin()) ||
           end > static_cast<int>(chunk.end()))) {
        return absl::InvalidArgumentError(where + ": the chunk splits a media item");
      }
    }
  }
  for (int i = 0; i < request.decode_size(); ++i) {
    const worker::v1::DecodeItem& item = request.decode(i);
    const std::string where = absl::StrCat("decode[", i, "] (sequence ", item.sequence_id(), ")");
    if (!sequences_.count(item.sequence_id())) {
      return absl::InvalidArgumentError(where + ": unknown sequence");
    }
    if (item.position() < 1 || item.token_id() < 0 || item.token_id() >= c.vocab_size) {
      return absl::InvalidArgumentError(where + ": bad token or position");
    }
    if (item.num_draft_tokens() > 0 && !backend_.has_drafter()) {
      return absl::InvalidArgumentError(where + ": num_draft_tokens > 0 but no drafter is loaded");
    }
  }
  absl::Status status = CheckSameStep(request.step_id());
  if (!status.ok()) return status;
  for (auto& [id, sequence] : started) sequences_[id] = std::move(sequence);

  ForwardStats stats;
  worker::v1::StepTimings* timings = response->mutable_timings();
  // 1. Prefill chunks: one pass; logits of each chunk's last position.
  if (request.prefill_size() > 0) {
    std::vector<ForwardChunk> chunks;
    std::vector<std::vector<MediaSpan>> media(request.prefill_size());
    for (int i = 0; i < request.prefill_size(); ++i) {
      const worker::v1::PrefillChunk& chunk = request.prefill(i);
      Sequence& sequence = *sequences_[chunk.sequence_id()];
      sequence.blocks = FromProto(chunk.blocks());
      for (const MediaSpan& span : sequence.media) {
        if (span.position >= static_cast<int>(chunk.begin()) &&
            span.position < static_cast<int>(chunk.end())) {
          media[i].push_back(span);
        }
      }
      chunks.push_back(
          {absl::MakeConstSpan(sequence.tokens).subspan(chunk.begin(), chunk.end() - chunk.begin()),
           static_cast<int>(chunk.begin()), &sequence.blocks, false, media[i]});
    }
    std::vector<float> logits, hidden;
    const Clock::time_point forward = Clock::now();
    status = backend_.Forward(chunks, &logits, &hidden, &stats);
    timings->set_forward_ns(timings->forward_ns() + NanosSince(forward));
    if (!status.ok()) return status;
    const Clock::time_point sample = Clock::now();
    for (int i = 0; i < request.prefill_size(); ++i) {
      const worker::v1::PrefillChunk& chunk = request.prefill(i);
      Sequence& sequence = *sequences_[chunk.sequence_id()];
      sequence.hidden.assign(hidden.begin() + size_t{static_cast<size_t>(i)} * c.hidden_size,
                             hidden.begin() + size_t{static_cast<size_t>(i) + 1} * c.hidden_size);
      if (!chunk.sample()) continue;
      const SampledToken token =
          Sample(&logits[static_cast<size_t>(i) * c.vocab_size], c.vocab_size, sequence.sampling,
                 sequence.penalties, sequence.output_index);
      sequence.penalties.AddOutput(token.token);
      ++sequence.output_index;
      if (!reports) continue;
      worker::v1::SequenceOutput* output = response->add_outputs();
      output->set_sequence_id(chunk.sequence_id());
      output->add_token_ids(token.token);
      if (sequence.sampling.logprobs) AddLogprobs(token, output);
    }
    timings->set_sample_ns(timings->sample_ns() + NanosSince(sample));
  }
  // 2. Decode items: one speculative step (k = 0 is a plain decode).
  if (request.decode_size() > 0) {
    std::vector<SpeculativeSequence> items;
    for (const worker::v1::DecodeItem& item : request.decode()) {
      Sequence& sequence = *sequences_[item.sequence_id()];
      if (item.has_blocks()) sequence.blocks = FromProto(item.blocks());
      items.push_back({&sequence.blocks, item.token_id(), static_cast<int>(item.position()),
                       sequence.hidden, static_cast<int>(item.num_draft_tokens()),
                       sequence.sampling, &sequence.penalties, sequence.output_index});
    }
    std::vector<SpeculativeOutcome> outcomes;
    const Clock::time_point forward = Clock::now();
    status = backend_.Speculate(items, &outcomes, &stats);
    timings->set_forward_ns(timings->forward_ns() + NanosSince(forward));
    if (!status.ok()) return status;
    for (int i = 0; i < request.decode_size(); ++i) {
      const worker::v1::DecodeItem& item = request.decode(i);
      Sequence& sequence = *sequences_[item.sequence_id()];
      const SpeculativeOutcome& outcome = outcomes[i];
      for (int32_t token : outcome.acceptance.tokens) sequence.penalties.AddOutput(token);
      sequence.output_index += outcome.acceptance.tokens.size();
      sequence.hidden = outcome.hidden;
      if (!reports) continue;
      worker::v1::SequenceOutput* output = response->add_outputs();
      output->set_sequence_id(item.sequence_id());
      for (int32_t token : outcome.acceptance.tokens) output->add_token_ids(token);
      for (const SampledToken& entry : outcome.logprobs) AddLogprobs(entry, output);
      output->set_num_drafted(static_cast<uint32_t>(outcome.drafts.size()));
      output->set_num_accepted(static_cast<uint32_t>(outcome.acceptance.num_accepted));
    }
  }
  timings->set_all_reduce_ns(stats.communication_ns);
  return absl::OkStatus();
}

grpc::Status WorkerService::Release(grpc::ServerContext*, const worker::v1::ReleaseRequest* request,
                                    worker::v1::ReleaseResponse* response) {
  absl::MutexLock lock(&mutex_);
  uint32_t released = 0;
  for (uint64_t id : request->sequence_ids()) released += sequences_.erase(id);
  response->set_num_released(released);
  UpdateHeld();
  return grpc::Status::OK;
}

grpc::Status WorkerService::ClearCache(grpc::ServerContext*, const worker::v1::ClearCacheRequest*,
                                       worker::v1::ClearCacheResponse* response) {
  absl::MutexLock lock(&mutex_);
  response->set_num_released(static_cast<uint32_t>(sequences_.size()));
  sequences_.clear();
  UpdateHeld();
  return grpc::Status::OK;
}

grpc::Status WorkerService::Health(grpc::ServerContext*, const worker::v1::HealthRequest*,
                                   worker::v1::HealthResponse* response) {
  absl::MutexLock lock(&mutex_);
  response->set_rank(backend_.tensor_parallel().rank);
  response->set_world_size(backend_.tensor_parallel().world_size);
  const Clock::time_point start = Clock::now();
  if (communicator_ != nullptr) {
    absl::Status status = communicator_->Barrier();
    if (!status.ok()) return ToGrpcStatus(status);
  }
  response->set_collective_round_trip_ns(NanosSince(start));
  return grpc::Status::OK;
}

}  // namespace gemma
