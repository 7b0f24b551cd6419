#include "engine/cuda/cuda_model.h"

#include <atomic>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/layer_ops.h"
#include "engine/cuda/step_plan.h"
#include "engine/dtype.h"

namespace gemma::cuda {
namespace {

absl::Status RandomBf16(DeviceBuffer& out, int64_t rows, int64_t cols, uint64_t seed,
                        cudaStream_t stream) {
  absl::Status s = out.Allocate(static_cast<size_t>(rows * cols) * sizeof(uint16_t));
  if (!s.ok()) return s;
  return CudaStatus(LaunchFillRandomBf16(out.as<uint16_t>(), rows * cols, seed,
                                         1.f / std::sqrt(static_cast<float>(cols)), stream),
                    "random weights");
}

}  // namespace

// Step-sized device buffers, grown on demand (doubling) and kept between steps. Every
// reallocation bumps `generation`: captured graphs hold the old addresses and must be redone.
struct CudaGemma4Model::Scratch {
  absl::Status Ensure(DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() >= bytes) return absl::OkStatus();
    ++generation;
    return buffer.Allocate(std::max(bytes, 2 * buffer.bytes()));
  }
  template <typename T>
  absl::Status Upload(const std::vector<T>& host, DeviceBuffer& buffer, cudaStream_t stream) {
    GEMMA_CUDA_RETURN_IF_ERROR(Ensure(buffer, std::max<size_t>(host.size(), 1) * sizeof(T)));
    if (host.empty()) return absl::OkStatus();
    return CudaStatus(cudaMemcpyAsync(buffer.data(), host.data(), host.size() * sizeof(T),
                                      cudaMemcpyHostToDevice, stream),
                      "plan upload");
  }

  uint64_t generation = 0;
  DeviceBuffer h, x, q, k, v, attention, attention_partial, projected, gate, up, activated,
      selected, normed, normed_bf16, logits, local_logits, gathered_logits;
  DeviceBuffer tokens, positions, logits_rows;
  struct Media {
    DeviceBuffer features, rows, soft_tokens;
  };
  std::vector<Media> media;  // One per media item of the step.
  struct Plan {
    DeviceBuffer store_slot, first_key, last_key, key_base, key_slots;
  } plan[2];
  std::vector<float> host_hidden;
};

absl::StatusOr<CudaKvCache> CudaKvCache::Create(const Gemma4Config& config,
                                                const KvCacheOptions& options) {
  if (options.block_size <= 0) return absl::InvalidArgumentError("block_size must be > 0");
  static std::atomic<uint64_t> next_id{1};
  CudaKvCache cache;
  cache.options_ = options;
  cache.id_ = next_id++;
  cache.layers_.resize(config.num_layers());
  for (int i = 0; i < config.num_layers(); ++i) {
    const LayerType type = config.layer_types[i];
    const AttentionGeometry& g = config.geometry(type);
    const size_t blocks =
        type == LayerType::kFull ? options.num_full_blocks : options.num_sliding_blocks;
    const size_t bytes = blocks * options.block_size * g.num_kv_heads * g.head_dim * 2;
    absl::Status s = cache.layers_[i].keys.Allocate(bytes);
    if (s.ok()) s = cache.layers_[i].values.Allocate(bytes);
    if (!s.ok()) return s;
  }
  return cache;
}

size_t CudaKvCache::bytes() const {
  size_t total = 0;
  for (const Layer& layer : layers_) total += layer.keys.bytes() + layer.values.bytes();
  return total;
}

CudaGemma4Model::CudaGemma4Model(Gemma4Config config)
    : config_(std::move(config)), scratch_(std::make_unique<Scratch>()) {
  int device = 0;
  if (cudaGetDevice(&device) == cudaSuccess) {
    cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, device);
  }
}

CudaGemma4Model::~CudaGemma4Model() {
  for (auto& [rows, graph] : graphs_) {
    if (graph.exec != nullptr) cudaGraphExecDestroy(graph.exec);
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

absl::StatusOr<std::unique_ptr<CudaGemma4Model>> CudaGemma4Model::Load(
    const std::string& path, parallel::NcclCommunicator* nccl) {
  TensorParallel tp;
  if (nccl != nullptr && nccl->world_size() > 1) tp = {nccl->rank(), nccl->world_size(), nccl};
  absl::StatusOr<std::unique_ptr<Gemma4Model>> cpu = Gemma4Model::Load(path, tp);
  if (!cpu.ok()) return cpu.status();
  const Gemma4Weights& w = (*cpu)->weights();
  std::unique_ptr<CudaGemma4Model> model(new CudaGemma4Model((*cpu)->config()));
  model->shard_config_ = (*cpu)->shard_config();
  model->tp_ = tp;
  model->nccl_ = tp.world_size > 1 ? nccl : nullptr;
  model->vocab_begin_ = static_cast<int>((*cpu)->vocab_begin());
  model->vocab_rows_ = static_cast<int>(w.embed.rows);
  absl::Status s = CudaStatus(cudaStreamCreate(&model->stream_), "cudaStreamCreate");
  if (!s.ok()) return s;
  absl::StatusOr<Gemm> gemm = Gemm::Create();
  if (!gemm.ok()) return gemm.status();
  model->gemm_ = std::make_unique<Gemm>(std::move(*gemm));
  model->embed_scale_ = w.embed_scale;
  if (!(s = UploadBf16(w.embed, model->embed_)).ok()) return s;
  if (!(s = model->final_norm_.Upload(w.final_norm)).ok()) return s;
  model->weight_bytes_ = model->embed_.bytes();
  model->layers_.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    GEMMA_CUDA_RETURN_IF_ERROR(UploadLayer(w.layers[i], &model->layers_[i], &model->weight_bytes_));
  }
  if (!(s = model->sliding_inv_freq_.Upload(RopeInverseFrequencies(model->config_.sliding))).ok() ||
      !(s = model->full_inv_freq_.Upload(RopeInverseFrequencies(model->config_.full))).ok()) {
    return s;
  }
  return model;
}

absl::StatusOr<std::unique_ptr<CudaGemma4Model>> CudaGemma4Model::CreateRandom(
    const Gemma4Config& config, uint64_t seed) {
  absl::Status s = ValidateGemma4Config(config);
  if (!s.ok()) return s;
  std::unique_ptr<CudaGemma4Model> model(new CudaGemma4Model(config));
  model->shard_config_ = config;
  model->vocab_rows_ = config.vocab_size;
  if (!(s = CudaStatus(cudaStreamCreate(&model->stream_), "cudaStreamCreate")).ok()) return s;
  absl::StatusOr<Gemm> gemm = Gemm::Create();
  if (!gemm.ok()) return gemm.status();
  model->gemm_ = std::make_unique<Gemm>(std::move(*gemm));
  const int64_t h = config.hidden_size, ffn = config.intermediate_size;
  model->embed_scale_ = std::sqrt(static_cast<float>(h));
  cudaStream_t stream = model->stream_;
  if (!(s = RandomBf16(model->embed_, config.vocab_size, h, seed++, stream)).ok()) return s;
  const std::vector<float> ones_h(h, 1.f);
  if (!(s = model->final_norm_.Upload(ones_h)).ok()) return s;
  model->weight_bytes_ = model->embed_.bytes();
  model->layers_.resize(config.num_layers());
  for (int i = 0; i < config.num_layers(); ++i) {
    DeviceLayer& layer = model->layers_[i];
    layer.type = config.layer_types[i];
    const AttentionGeometry& g = config.geometry(layer.type);
    const int64_t q_width = int64_t{config.num_heads} * g.head_dim;
    const int64_t kv_width = int64_t{g.num_kv_heads} * g.head_dim;
    const std::vector<float> ones_d(g.head_dim, 1.f);
    for (DeviceBuffer* norm : {&layer.input_norm, &layer.post_attention_norm, &layer.pre_ffn_norm,
                               &layer.post_ffn_norm}) {
      if (!(s = norm->Upload(ones_h)).ok()) return s;
    }
    if (!(s = layer.q_norm.Upload(ones_d)).ok() || !(s = layer.k_norm.Upload(ones_d)).ok()) {
      return s;
    }
    struct Shape {
      DeviceBuffer* buffer;
      int64_t rows, cols;
    };
    std::vector<Shape> shapes = {{&layer.q, q_width, h}, {&layer.k, kv_width, h},
                                 {&layer.o, h, q_width}, {&layer.gate, ffn, h},
                                 {&layer.up, ffn, h},    {&layer.down, h, ffn}};
    if (config.has_v_proj(layer.type)) shapes.push_back({&layer.v, kv_width, h});
    for (const Shape& shape : shapes) {
      if (!(s = RandomBf16(*shape.buffer, shape.rows, shape.cols, seed++, stream)).ok()) return s;
      model->weight_bytes_ += shape.buffer->bytes();
    }
  }
  if (!(s = model->sliding_inv_freq_.Upload(RopeInverseFrequencies(config.sliding))).ok() ||
      !(s = model->full_inv_freq_.Upload(RopeInverseFrequencies(config.full))).ok()) {
    return s;
  }
  if (!(s = CudaStatus(cudaStreamSynchronize(stream), "random weights")).ok()) return s;
  return model;
}

absl::Status CudaGemma4Model::Prepare(absl::Span<const ForwardChunk> chunks,
                                      const CudaKvCache& cache, bool graph, StepShape* shape) {
  absl::StatusOr<StepPlan> planned = PlanStep(chunks, config_, cache.block_size());
  if (!planned.ok()) return planned.status();
  const StepPlan& plan = *planned;
  const Gemma4Config& c = config_;
  shape->rows = plan.rows;
  shape->out_rows = static_cast<int>(plan.logits_rows.size());
  Scratch& s = *scratch_;
  // Media: features and the rows their soft tokens replace, uploaded per item.
  shape->media.clear();
  int chunk_offset = 0;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const ForwardChunk& chunk = chunks[ci];
    GEMMA_CUDA_RETURN_IF_ERROR(
        ValidateMediaSpans(chunk, ci, c, embedders_.has_image(), embedders_.has_audio()));
    for (const MediaSpan& span : chunk.media) {
      const size_t item = shape->media.size();
      if (s.media.size() <= item) s.media.resize(item + 1);
      Scratch::Media& buffers = s.media[item];
      const size_t width = span.kind == MediaKind::kImage ? c.media.patch_dim : c.media.audio_frame;
      const size_t count = span.num_tokens;
      std::vector<int32_t> rows(count);
      for (size_t i = 0; i < count; ++i) {
        rows[i] = chunk_offset + span.position - chunk.start_position + static_cast<int>(i);
      }
      GEMMA_CUDA_RETURN_IF_ERROR(s.Ensure(buffers.features, count * width * sizeof(float)));
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
          cudaMemcpyAsync(buffers.features.data(), span.features, count * width * sizeof(float),
                          cudaMemcpyHostToDevice, stream_),
          "media upload"));
      GEMMA_CUDA_RETURN_IF_ERROR(s.Upload(rows, buffers.rows, stream_));
      GEMMA_CUDA_RETURN_IF_ERROR(
          s.Ensure(buffers.soft_tokens, count * c.hidden_size * sizeof(float)));
      shape->media.push_back({span.kind, static_cast<int>(count), span.grid_width});
    }
    chunk_offset += static_cast<int>(chunk.tokens.size());
  }
  // Split-K for long rows at small batch, per layer type. A graph's shape must serve every
  // later context, so it plans for the longest.
  size_t partial_floats = 1;
  for (int t = 0; t < 2; ++t) {
    const AttentionGeometry& g = t == 1 ? c.full : c.sliding;
    const int max_keys =
        graph ? (t == 1 ? c.max_position : c.sliding_window) : plan.plan[t].max_keys;
    shape->splits[t] = PlanAttentionSplits(plan.rows, shard_config_.num_heads, g.head_dim, max_keys,
                                           multiprocessors_);
    partial_floats = std::max(partial_floats, shape->splits[t].scratch_floats);
  }
  const Gemma4Config& sc = shard_config_;  // This rank's heads and MLP width.
  int max_q = 0, max_kv = 0;
  for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
    max_q = std::max(max_q, sc.num_heads * sc.geometry(type).head_dim);
    max_kv = std::max(max_kv, sc.geometry(type).num_kv_heads * sc.geometry(type).head_dim);
  }
  const size_t f32 = sizeof(float), bf16 = sizeof(uint16_t), r = plan.rows, out = shape->out_rows,
               hidden = c.hidden_size, ffn = sc.intermediate_size, world = tp_.world_size;
  for (auto [buffer, bytes] : {std::pair{&s.h, r * hidden * f32},
                               {&s.x, r * std::max(hidden, ffn) * bf16},
                               {&s.q, r * max_q * f32},
                               {&s.k, r * max_kv * f32},
                               {&s.v, r * max_kv * f32},
                               {&s.attention, r * max_q * bf16},
                               {&s.attention_partial, partial_floats * f32},
                               {&s.projected, r * hidden * f32},
                               {&s.gate, r * ffn * f32},
                               {&s.up, r * ffn * f32},
                               {&s.activated, r * ffn * bf16},
                               {&s.selected, out * hidden * f32},
                               {&s.normed, out * hidden * f32},
                               {&s.normed_bf16, out * hidden * bf16},
                               {&s.logits, out * c.vocab_size * f32},
                               {&s.local_logits, world > 1 ? out * vocab_rows_ * f32 : 1},
                               {&s.gathered_logits, world > 1 ? out * c.vocab_size * f32 : 1}}) {
    GEMMA_CUDA_RETURN_IF_ERROR(s.Ensure(*buffer, bytes));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(s.Upload(plan.tokens, s.tokens, stream_));
  GEMMA_CUDA_RETURN_IF_ERROR(s.Upload(plan.positions, s.positions, stream_));
  GEMMA_CUDA_RETURN_IF_ERROR(s.Upload(plan.logits_rows, s.logits_rows, stream_));
  for (int t = 0; t < 2; ++t) {
    const AttentionPlan& from = plan.plan[t];
    Scratch::Plan& to = s.plan[t];
    for (auto [host, device] : {std::pair{&from.store_slot, &to.store_slot},
                                {&from.first_key, &to.first_key},
                                {&from.last_key, &to.last_key},
                                {&from.key_base, &to.key_base},
                                {&from.key_slots, &to.key_slots}}) {
      GEMMA_CUDA_RETURN_IF_ERROR(s.Upload(*host, *device, stream_));
    }
  }
  return absl::OkStatus();
}

absl::Status CudaGemma4Model::Enqueue(const StepShape& shape, const CudaKvCache& cache) {
  const Gemma4Config& c = config_;
  const Gemma4Config& sc = shard_config_;  // This rank's heads, KV heads and MLP width.
  const int rows = shape.rows, out_rows = shape.out_rows, hidden = c.hidden_size;
  Scratch& s = *scratch_;
  cudaStream_t stream = stream_;
  auto check = [](cudaError_t error, const char* what) { return CudaStatus(error, what); };
  // Tensor parallelism: partial sums over the ranks, on this stream.
  const DeviceAllReduce all_reduce = [this, stream](float* data, size_t count) {
    return nccl_->AllReduceSumOnDevice(data, count, stream);
  };
  const DeviceAllReduce* reduce = nccl_ != nullptr ? &all_reduce : nullptr;
  float* h = s.h.as<float>();
  uint16_t* x = s.x.as<uint16_t>();
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchEmbed(embed_.as<uint16_t>(), s.tokens.as<int32_t>(), rows, hidden, embed_scale_,
                        vocab_begin_, vocab_rows_, h, stream),
            "embed"));
  if (reduce != nullptr) {
    GEMMA_CUDA_RETURN_IF_ERROR((*reduce)(h, static_cast<size_t>(rows) * hidden));
  }
  // Soft tokens replace their placeholders' rows (unscaled).
  for (size_t item = 0; item < shape.media.size(); ++item) {
    const StepShape::MediaItem& media = shape.media[item];
    const Scratch::Media& buffers = s.media[item];
    float* soft = buffers.soft_tokens.as<float>();
    GEMMA_CUDA_RETURN_IF_ERROR(media.kind == MediaKind::kImage
                                   ? embedders_.EnqueueImage(*gemm_, buffers.features.as<float>(),
                                                             media.count, media.grid_width, soft,
                                                             stream)
                                   : embedders_.EnqueueAudio(*gemm_, buffers.features.as<float>(),
                                                             media.count, soft, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchScatterRows(soft, buffers.rows.as<int32_t>(), media.count, hidden, h, stream),
              "soft tokens"));
  }
  for (int li = 0; li < c.num_layers(); ++li) {
    const DeviceLayer& layer = layers_[li];
    const AttentionGeometry& g = sc.geometry(layer.type);
    const int type_index = layer.type == LayerType::kFull ? 1 : 0;
    const Scratch::Plan& plan = s.plan[type_index];
    const int d = g.head_dim, heads = sc.num_heads, kv_heads = g.num_kv_heads;
    const bool v_is_k = layer.v.data() == nullptr;
    const float* inv_freq =
        layer.type == LayerType::kFull ? full_inv_freq_.as<float>() : sliding_inv_freq_.as<float>();
    float *q = s.q.as<float>(), *k = s.k.as<float>(), *v = s.v.as<float>();
    GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchRmsNormToBf16(h, layer.input_norm.as<float>(), rows,
                                                         hidden, c.rms_norm_eps, x, stream),
                                     "input norm"));
    GEMMA_CUDA_RETURN_IF_ERROR(
        gemm_->Run(layer.q.as<uint16_t>(), x, q, rows, heads * d, hidden, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(
        gemm_->Run(layer.k.as<uint16_t>(), x, k, rows, kv_heads * d, hidden, stream));
    if (!v_is_k) {
      GEMMA_CUDA_RETURN_IF_ERROR(
          gemm_->Run(layer.v.as<uint16_t>(), x, v, rows, kv_heads * d, hidden, stream));
    }
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchQkvNormRope(q, k, v, layer.q_norm.as<float>(), layer.k_norm.as<float>(),
                                s.positions.as<int32_t>(), inv_freq, rows, heads, kv_heads, d,
                                g.rotated_pairs, c.rms_norm_eps, v_is_k, stream),
              "q/k/v norm + RoPE"));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchStoreKv(k, v, plan.store_slot.as<int32_t>(), rows, kv_heads * d, cache.keys(li),
                            cache.values(li), stream),
              "KV store"));
    GEMMA_CUDA_RETURN_IF_ERROR(check(
        LaunchPagedAttention(q, cache.keys(li), cache.values(li), plan.first_key.as<int32_t>(),
                             plan.last_key.as<int32_t>(), plan.key_base.as<int32_t>(),
                             plan.key_slots.as<int32_t>(), rows, heads, kv_heads, d,
                             shape.splits[type_index], s.attention_partial.as<float>(),
                             s.attention.as<uint16_t>(), stream),
        "attention"));
    GEMMA_CUDA_RETURN_IF_ERROR(gemm_->Run(layer.o.as<uint16_t>(), s.attention.as<uint16_t>(),
                                          s.projected.as<float>(), rows, hidden, heads * d,
                                          stream));
    if (reduce != nullptr) {
      GEMMA_CUDA_RETURN_IF_ERROR(
          (*reduce)(s.projected.as<float>(), static_cast<size_t>(rows) * hidden));
    }
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchRmsNormResidual(s.projected.as<float>(), layer.post_attention_norm.as<float>(),
                                    rows, hidden, c.rms_norm_eps, 1.f, h, stream),
              "post-attention norm"));
    GEMMA_CUDA_RETURN_IF_ERROR(
        EnqueueFeedForward(*gemm_, layer, sc, rows, h,
                           {x, s.gate.as<float>(), s.up.as<float>(), s.activated.as<uint16_t>(),
                            s.projected.as<float>()},
                           stream, reduce));
  }
  // Final norm (f32, for the hidden states) and the tied LM head on the requested rows.
  float* normed = s.normed.as<float>();
  GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchGatherRows(h, s.logits_rows.as<int32_t>(), out_rows,
                                                    hidden, s.selected.as<float>(), stream),
                                   "gather"));
  GEMMA_CUDA_RETURN_IF_ERROR(check(
      cudaMemsetAsync(normed, 0, static_cast<size_t>(out_rows) * hidden * sizeof(float), stream),
      "memset"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchRmsNormResidual(s.selected.as<float>(), final_norm_.as<float>(), out_rows, hidden,
                                  c.rms_norm_eps, 1.f, normed, stream),
            "final norm"));
  GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchToBf16(normed, static_cast<int64_t>(out_rows) * hidden,
                                                s.normed_bf16.as<uint16_t>(), stream),
                                   "cast"));
  if (nccl_ == nullptr) {
    GEMMA_CUDA_RETURN_IF_ERROR(gemm_->Run(embed_.as<uint16_t>(), s.normed_bf16.as<uint16_t>(),
                                          s.logits.as<float>(), out_rows, c.vocab_size, hidden,
                                          stream));
  } else {
    // Vocab-parallel LM head: this rank's slice, all-gathered, then laid out row by row.
    GEMMA_CUDA_RETURN_IF_ERROR(gemm_->Run(embed_.as<uint16_t>(), s.normed_bf16.as<uint16_t>(),
                                          s.local_logits.as<float>(), out_rows, vocab_rows_, hidden,
                                          stream));
    GEMMA_CUDA_RETURN_IF_ERROR(nccl_->AllGatherOnDevice(s.local_logits.as<float>(),
                                                        static_cast<size_t>(out_rows) * vocab_rows_,
                                                        s.gathered_logits.as<float>(), stream));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchInterleaveSlices(s.gathered_logits.as<float>(), tp_.world_size, out_rows,
                                     vocab_rows_, s.logits.as<float>(), stream),
              "logits layout"));
  }
  if (c.final_logit_softcap > 0) {
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchSoftcap(s.logits.as<float>(), static_cast<int64_t>(out_rows) * c.vocab_size,
                            c.final_logit_softcap, stream),
              "softcap"));
  }
  return absl::OkStatus();
}

absl::Status CudaGemma4Model::Step(absl::Span<const ForwardChunk> chunks, CudaKvCache& cache,
                                   int* logits_rows, bool keep_hidden) {
  // Decode-only steps (one token per sequence, its logits) replay a CUDA graph per batch size:
  // the first step of a size runs eagerly (GEMM plans are made then), the second captures. The
  // hidden states' download follows the graph on the same stream.
  bool graph = use_cuda_graphs_;
  for (const ForwardChunk& chunk : chunks) {
    graph = graph && chunk.tokens.size() == 1 && chunk.media.empty();
  }
  StepShape shape;
  GEMMA_CUDA_RETURN_IF_ERROR(Prepare(chunks, cache, graph, &shape));
  Scratch& s = *scratch_;
  if (!graph) {
    GEMMA_CUDA_RETURN_IF_ERROR(Enqueue(shape, cache));
  } else {
    DecodeGraph& g = graphs_[shape.rows];
    const bool current = g.exec != nullptr && g.generation == s.generation && g.cache == cache.id();
    if (current) {
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(cudaGraphLaunch(g.exec, stream_), "graph launch"));
    } else if (!g.warmed || g.cache != cache.id()) {
      GEMMA_CUDA_RETURN_IF_ERROR(Enqueue(shape, cache));
      g.warmed = true;
      g.cache = cache.id();
    } else {
      if (g.exec != nullptr) cudaGraphExecDestroy(g.exec);
      g.exec = nullptr;
      cudaGraph_t captured = nullptr;
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
          cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "begin capture"));
      const absl::Status enqueued = Enqueue(shape, cache);
      const cudaError_t ended = cudaStreamEndCapture(stream_, &captured);
      GEMMA_CUDA_RETURN_IF_ERROR(enqueued);
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(ended, "end capture"));
      const cudaError_t instantiated = cudaGraphInstantiate(&g.exec, captured, 0);
      cudaGraphDestroy(captured);
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(instantiated, "graph instantiate"));
      g.generation = s.generation;
      GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(cudaGraphLaunch(g.exec, stream_), "graph launch"));
    }
  }
  if (keep_hidden) {
    s.host_hidden.resize(static_cast<size_t>(shape.out_rows) * config_.hidden_size);
    GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
        cudaMemcpyAsync(s.host_hidden.data(), s.normed.data(), s.host_hidden.size() * sizeof(float),
                        cudaMemcpyDeviceToHost, stream_),
        "hidden download"));
  }
  *logits_rows = shape.out_rows;
  // With peers, a bounded wait: a dead rank turns into UNAVAILABLE, not a hang.
  if (nccl_ != nullptr) return nccl_->WaitStream(stream_, "step");
  return CudaStatus(cudaStreamSynchronize(stream_), "step");
}

absl::Status CudaGemma4Model::Forward(absl::Span<const ForwardChunk> chunks, CudaKvCache& cache,
                                      std::vector<float>* logits, std::vector<float>* hidden) {
  int rows = 0;
  absl::Status status = Step(chunks, cache, &rows, hidden != nullptr);
  if (!status.ok()) return status;
  logits->resize(static_cast<size_t>(rows) * config_.vocab_size);
  status = scratch_->logits.Download(logits->data(), logits->size() * sizeof(float));
  if (!status.ok()) return status;
  if (hidden != nullptr) *hidden = scratch_->host_hidden;
  return absl::OkStatus();
}

absl::StatusOr<const float*> CudaGemma4Model::ForwardOnDevice(absl::Span<const ForwardChunk> chunks,
                                                              CudaKvCache& cache,
                                                              int* logits_rows) {
  absl::Status status = Step(chunks, cache, logits_rows, false);
  if (!status.ok()) return status;
  return scratch_->logits.as<float>();
}

}  // namespace gemma::cuda
