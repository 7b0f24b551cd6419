#include "engine/model/gemma4.h"

#include <chrono>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

}  // namespace

std::vector<float> RopeInverseFrequencies(const AttentionGeometry& g) {
  std::vector<float> inv_freq(g.rotated_pairs);
  for (int i = 0; i < g.rotated_pairs; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(g.head_dim);
    inv_freq[i] = 1.0f / std::pow(g.rope_theta, exponent);
  }
  return inv_freq;
}

namespace {

class WeightLoader {
 public:
  explicit WeightLoader(const Checkpoint& checkpoint) : checkpoint_(checkpoint) {}

  absl::Status Matrix2D(const std::string& name, int64_t rows, int64_t cols, Matrix* out) {
    absl::StatusOr<const TensorView*> t = Shaped(name, {rows, cols});
    if (!t.ok()) return t.status();
    if ((*t)->dtype == DType::kI32 || (*t)->dtype == DType::kI64) return BadDtype(**t);
    *out = Matrix{(*t)->dtype, rows, cols, (*t)->data};
    return absl::OkStatus();
  }

  absl::Status Vector(const std::string& name, int64_t size, std::vector<float>* out) {
    absl::StatusOr<const TensorView*> t = Shaped(name, {size});
    if (!t.ok()) return t.status();
    if ((*t)->dtype == DType::kI32 || (*t)->dtype == DType::kI64) return BadDtype(**t);
    out->resize(size);
    ConvertToF32((*t)->dtype, (*t)->data, size, out->data());
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<const TensorView*> Shaped(const std::string& name,
                                           const std::vector<int64_t>& shape) {
    absl::StatusOr<const TensorView*> t = checkpoint_.Require(name);
    if (!t.ok()) return t.status();
    if ((*t)->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          checkpoint_.path(), ": tensor ", checkpoint_.StoredName(name), " has shape ",
          ShapeString((*t)->shape), ", expected ", ShapeString(shape)));
    }
    return t;
  }

  absl::Status BadDtype(const TensorView& t) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint_.path(), ": tensor ", t.name,
                                                   " has integer dtype ", DTypeName(t.dtype)));
  }

  const Checkpoint& checkpoint_;
};

float EmbedScale(DType dtype, int hidden_size) {
  const float scale = std::sqrt(static_cast<float>(hidden_size));
  switch (dtype) {
    case DType::kBF16: return RoundToBf16(scale);
    case DType::kF16: return RoundToF16(scale);
    default: return scale;
  }
}

}  // namespace

absl::Status LoadLayerWeights(const Checkpoint& checkpoint, const Gemma4Config& c, int i,
                              bool with_kv, Gemma4LayerWeights* layer_out, const TensorParallel& tp,
                              std::vector<std::unique_ptr<uint8_t[]>>* storage) {
  WeightLoader load(checkpoint);
  const int64_t hidden = c.hidden_size;
  absl::Status s;
  Gemma4LayerWeights& layer = *layer_out;
  layer.type = c.layer_types[i];
  const AttentionGeometry& g = c.geometry(layer.type);
  const int64_t q_width = int64_t{c.num_heads} * g.head_dim;
  const int64_t kv_width = int64_t{g.num_kv_heads} * g.head_dim;
  const std::string p = absl::StrCat("layers.", i, ".");
  if (!(s = load.Vector(p + "input_layernorm.weight", hidden, &layer.input_norm)).ok()) return s;
  if (!(s = load.Vector(p + "post_attention_layernorm.weight", hidden,
                        &layer.post_attention_norm)).ok()) {
    return s;
  }
  if (!(s = load.Vector(p + "pre_feedforward_layernorm.weight", hidden, &layer.pre_ffn_norm))
           .ok()) {
    return s;
  }
  if (!(s = load.Vector(p + "post_feedforward_layernorm.weight", hidden, &layer.post_ffn_norm))
           .ok()) {
    return s;
  }
  if (!(s = load.Vector(p + "self_attn.q_norm.weight", g.head_dim, &layer.q_norm)).ok()) return s;
  if (!(s = load.Matrix2D(p + "self_attn.q_proj.weight", q_width, hidden, &layer.q)).ok()) return s;
  if (with_kv) {
    if (!(s = load.Vector(p + "self_attn.k_norm.weight", g.head_dim, &layer.k_norm)).ok()) return s;
    if (!(s = load.Matrix2D(p + "self_attn.k_proj.weight", kv_width, hidden, &layer.k)).ok()) {
      return s;
    }
    if (c.has_v_proj(layer.type)) {
      if (!(s = load.Matrix2D(p + "self_attn.v_proj.weight", kv_width, hidden, &layer.v)).ok()) {
        return s;
      }
    }
  }
  if (!(s = load.Matrix2D(p + "self_attn.o_proj.weight", hidden, q_width, &layer.o)).ok()) return s;
  const int64_t ffn = c.intermediate_size;
  if (!(s = load.Matrix2D(p + "mlp.gate_proj.weight", ffn, hidden, &layer.gate)).ok()) return s;
  if (!(s = load.Matrix2D(p + "mlp.up_proj.weight", ffn, hidden, &layer.up)).ok()) return s;
  if (!(s = load.Matrix2D(p + "mlp.down_proj.weight", hidden, ffn, &layer.down)).ok()) return s;
  std::vector<float> scalar;
  if (!(s = load.Vector(p + "layer_scalar", 1, &scalar)).ok()) return s;
  layer.layer_scalar = scalar[0];
  if (tp.world_size == 1) return absl::OkStatus();

  // Keep this rank's shard: views of row slices, copies of column slices.
  const Gemma4Config local = ShardConfig(c, tp);
  const int d = g.head_dim;
  const int64_t local_q = int64_t{local.num_heads} * d;
  const int64_t local_kv = int64_t{local.geometry(layer.type).num_kv_heads} * d;
  const int64_t first_kv = int64_t{FirstKvHead(c, g, tp)} * d;
  const int64_t local_ffn = local.intermediate_size;
  layer.q = RowSlice(layer.q, tp.rank * local_q, local_q);
  if (with_kv) {
    layer.k = RowSlice(layer.k, first_kv, local_kv);
    if (!layer.v.empty()) layer.v = RowSlice(layer.v, first_kv, local_kv);
  }
  layer.gate = RowSlice(layer.gate, tp.rank * local_ffn, local_ffn);
  layer.up = RowSlice(layer.up, tp.rank * local_ffn, local_ffn);
  absl::StatusOr<Matrix> o = ColumnSlice(layer.o, tp.rank * local_q, local_q, storage);
  if (!o.ok()) return absl::Status(o.status().code(), absl::StrCat(p, "o_proj: ", o.status().message()));
  layer.o = *o;
  absl::StatusOr<Matrix> down = ColumnSlice(layer.down, tp.rank * local_ffn, local_ffn, storage);
  if (!down.ok()) {
    return absl::Status(down.status().code(), absl::StrCat(p, "down_proj: ", down.status().message()));
  }
  layer.down = *down;
  return absl::OkStatus();
}

namespace {

// Runs one collective, adding its duration to `stats`.
template <typename Collective>
absl::Status Timed(ForwardStats* stats, Collective&& collective) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = collective();
  if (stats != nullptr) {
    stats->communication_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - start)
                                   .count();
  }
  return status;
}

}  // namespace

absl::Status FeedForwardBlock(const Gemma4LayerWeights& layer, const Gemma4Config& c, int rows,
                              cpu::Gelu gelu, float* h, parallel::Communicator* communicator,
                              ForwardStats* stats) {
  const int hidden = c.hidden_size, ffn = c.intermediate_size;
  std::vector<float> x(static_cast<size_t>(rows) * hidden), out(x.size());
  cpu::RmsNorm(h, layer.pre_ffn_norm.data(), rows, hidden, c.rms_norm_eps, x.data());
  std::vector<float> gate(static_cast<size_t>(rows) * ffn), up(gate.size());
  cpu::MatMul(layer.gate, x.data(), rows, gate.data());
  cpu::MatMul(layer.up, x.data(), rows, up.data());
  cpu::GeluGate(gate.data(), up.data(), static_cast<int64_t>(gate.size()), gelu, gate.data());
  cpu::MatMul(layer.down, gate.data(), rows, out.data());
  if (communicator != nullptr) {
    absl::Status s =
        Timed(stats, [&] { return communicator->AllReduceSum(out.data(), out.size()); });
    if (!s.ok()) return s;
  }
  cpu::RmsNorm(out.data(), layer.post_ffn_norm.data(), rows, hidden, c.rms_norm_eps, out.data());
  for (size_t e = 0; e < x.size(); ++e) h[e] = (h[e] + out[e]) * layer.layer_scalar;
  return absl::OkStatus();
}

Gemma4Model::Gemma4Model(std::unique_ptr<Checkpoint> checkpoint, const TensorParallel& tp)
    : checkpoint_(std::move(checkpoint)), tp_(tp) {}

absl::StatusOr<std::unique_ptr<Gemma4Model>> Gemma4Model::Load(const std::string& path,
                                                               const TensorParallel& tp) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(path);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::Status sharding = ValidateSharding((*checkpoint)->config(), tp);
  if (!sharding.ok()) return sharding;
  std::unique_ptr<Gemma4Model> model(new Gemma4Model(std::move(*checkpoint), tp));
  model->shard_config_ = ShardConfig(model->config(), tp);
  absl::Status status = model->LoadWeights();
  if (!status.ok()) return status;
  absl::StatusOr<Gemma4Embedders> embedders = LoadGemma4Embedders(*model->checkpoint_);
  if (!embedders.ok()) return embedders.status();
  model->embedders_ = std::move(*embedders);
  return model;
}

absl::Status Gemma4Model::LoadWeights() {
  const Gemma4Config& c = config();
  const int64_t hidden = c.hidden_size;
  WeightLoader load(*checkpoint_);
  absl::Status s;
  if (!(s = load.Matrix2D("embed_tokens.weight", c.vocab_size, hidden, &weights_.embed)).ok()) {
    return s;
  }
  const int64_t vocab_rows = c.vocab_size / tp_.world_size;
  vocab_begin_ = tp_.rank * vocab_rows;
  weights_.embed = RowSlice(weights_.embed, vocab_begin_, vocab_rows);
  weights_.embed_scale = EmbedScale(weights_.embed.dtype, c.hidden_size);
  if (!(s = load.Vector("norm.weight", hidden, &weights_.final_norm)).ok()) return s;
  weights_.layers.resize(c.num_layers());
  for (int i = 0; i < c.num_layers(); ++i) {
    if (!(s = LoadLayerWeights(*checkpoint_, c, i, /*with_kv=*/true, &weights_.layers[i], tp_,
                               &owned_))
             .ok()) {
      return s;
    }
  }
  sliding_inv_freq_ = RopeInverseFrequencies(c.sliding);
  full_inv_freq_ = RopeInverseFrequencies(c.full);
  return absl::OkStatus();
}

absl::Status Gemma4Model::ValidateMedia(const ForwardChunk& chunk, size_t index) const {
  return ValidateMediaSpans(chunk, index, config(), embedders_.image.has_value(),
                            embedders_.audio.has_value());
}

absl::Status ValidateMediaSpans(const ForwardChunk& chunk, size_t index, const Gemma4Config& c,
                                bool has_image, bool has_audio) {
  const int begin = chunk.start_position;
  const int end = begin + static_cast<int>(chunk.tokens.size());
  int previous_end = begin;
  for (size_t m = 0; m < chunk.media.size(); ++m) {
    const MediaSpan& span = chunk.media[m];
    const std::string where = absl::StrCat("chunk ", index, " media ", m, ": ");
    const bool image = span.kind == MediaKind::kImage;
    if (image ? !has_image : !has_audio) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "this model has no ", image ? "image" : "audio", " embedder"));
    }
    if (span.features == nullptr || span.num_tokens <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, "needs features and tokens"));
    }
    if (span.position < previous_end || span.position + span.num_tokens > end) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "positions [", span.position, ", ", span.position + span.num_tokens,
          ") overlap another item or leave the chunk [", begin, ", ", end, ")"));
    }
    if (image && (span.grid_width <= 0 || span.grid_width > c.media.position_table_size ||
                  (span.num_tokens - 1) / span.grid_width >= c.media.position_table_size)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "grid width ", span.grid_width,
                                                     " does not fit the position table"));
    }
    const int32_t placeholder = image ? kImageSoftToken : kAudioSoftToken;
    for (int p = span.position; p < span.position + span.num_tokens; ++p) {
      if (chunk.tokens[p - begin] != placeholder) {
        return absl::InvalidArgumentError(absl::StrCat(where, "position ", p, " holds token ",
                                                       chunk.tokens[p - begin], ", not ",
                                                       placeholder));
      }
    }
    previous_end = span.position + span.num_tokens;
  }
  return absl::OkStatus();
}

absl::Status Gemma4Model::Forward(absl::Span<const ForwardChunk> chunks, KvCache& cache,
                                  std::vector<float>* logits, const ForwardOptions& options,
                                  std::vector<float>* hidden_out, ForwardStats* stats) const {
  const Gemma4Config& c = shard_config_;  // Whole hidden size and vocabulary; this rank's heads.
  const int hidden = c.hidden_size;
  parallel::Communicator* const comm = tp_.world_size > 1 ? tp_.communicator : nullptr;
  // Validate everything before touching the cache.
  int total = 0;
  std::vector<int> chunk_offset;  // First row of each chunk in the step's activations.
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const ForwardChunk& chunk = chunks[ci];
    if (chunk.tokens.empty() || chunk.blocks == nullptr || chunk.start_position < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk ", ci, ": needs tokens, block tables and a position >= 0"));
    }
    const int end = chunk.start_position + static_cast<int>(chunk.tokens.size());
    if (end > c.max_position) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", ci, ": position ", end - 1,
                                                     " exceeds the context of ", c.max_position));
    }
    for (int32_t token : chunk.tokens) {
      if (token < 0 || token >= c.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("chunk ", ci, ": token id ", token,
                                                       " outside [0, ", c.vocab_size, ")"));
      }
    }
    for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
      const int first = type == LayerType::kFull
                            ? 0
                            : std::max(0, chunk.start_position - c.sliding_window + 1);
      for (int p = first; p < end; p += 1) {
        if (cache.BlockOf(*chunk.blocks, type, p) < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "chunk ", ci, ": the ", type == LayerType::kFull ? "full" : "sliding",
              "-attention block table does not cover position ", p));
        }
      }
    }
    absl::Status media = ValidateMedia(chunk, ci);
    if (!media.ok()) return media;
    chunk_offset.push_back(total);
    total += static_cast<int>(chunk.tokens.size());
  }

  // h: [total, H] residual stream.
  std::vector<float> h(static_cast<size_t>(total) * hidden);
  std::vector<int> positions(total);
  {
    std::vector<float> row(hidden);
    int t = 0;
    for (const ForwardChunk& chunk : chunks) {
      for (size_t i = 0; i < chunk.tokens.size(); ++i, ++t) {
        positions[t] = chunk.start_position + static_cast<int>(i);
        // Vocab-parallel: only the rank holding the token's row contributes it.
        const int64_t row = chunk.tokens[i] - vocab_begin_;
        if (row < 0 || row >= weights_.embed.rows) continue;
        ConvertToF32(weights_.embed.dtype, weights_.embed.row(row), hidden,
                     &h[static_cast<size_t>(t) * hidden]);
        for (int d = 0; d < hidden; ++d) h[static_cast<size_t>(t) * hidden + d] *= weights_.embed_scale;
      }
    }
    if (comm != nullptr) {
      absl::Status s = Timed(stats, [&] { return comm->AllReduceSum(h.data(), h.size()); });
      if (!s.ok()) return s;
    }
    // Soft tokens replace their placeholders' rows (unscaled).
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
      for (const MediaSpan& span : chunks[ci].media) {
        float* rows = &h[static_cast<size_t>(chunk_offset[ci] + span.position -
                                             chunks[ci].start_position) * hidden];
        if (span.kind == MediaKind::kImage) {
          EmbedImage(*embedders_.image, c, span.features, span.num_tokens, span.grid_width, rows);
        } else {
          EmbedAudio(*embedders_.audio, c, span.features, span.num_tokens, rows);
        }
      }
    }
  }

  std::vector<float> x(h.size()), residual(h.size());
  for (int li = 0; li < c.num_layers(); ++li) {
    const Gemma4LayerWeights& layer = weights_.layers[li];
    const AttentionGeometry& g = c.geometry(layer.type);
    const int d = g.head_dim, heads = c.num_heads, kv_heads = g.num_kv_heads;
    const int group = heads / kv_heads;
    const float* inv_freq =
        layer.type == LayerType::kFull ? full_inv_freq_.data() : sliding_inv_freq_.data();

    cpu::RmsNorm(h.data(), layer.input_norm.data(), total, hidden, c.rms_norm_eps, x.data());
    std::vector<float> q(static_cast<size_t>(total) * heads * d);
    std::vector<float> k(static_cast<size_t>(total) * kv_heads * d);
    std::vector<float> v(k.size());
    cpu::MatMul(layer.q, x.data(), total, q.data());
    cpu::MatMul(layer.k, x.data(), total, k.data());
    if (layer.v.empty()) {
      v = k;  // k_eq_v: V is the raw K projection, before k_norm and RoPE.
    } else {
      cpu::MatMul(layer.v, x.data(), total, v.data());
    }
    cpu::RmsNorm(q.data(), layer.q_norm.data(), total * heads, d, c.rms_norm_eps, q.data());
    cpu::RmsNorm(k.data(), layer.k_norm.data(), total * kv_heads, d, c.rms_norm_eps, k.data());
    cpu::RmsNorm(v.data(), nullptr, total * kv_heads, d, c.rms_norm_eps, v.data());
    for (int t = 0; t < total; ++t) {
      cpu::ApplyRope(&q[static_cast<size_t>(t) * heads * d], heads, d, g.rotated_pairs, inv_freq,
                     positions[t]);
      cpu::ApplyRope(&k[static_cast<size_t>(t) * kv_heads * d], kv_heads, d, g.rotated_pairs,
                     inv_freq, positions[t]);
    }

    // Store this step's K/V, then attend.
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
      const ForwardChunk& chunk = chunks[ci];
      for (size_t i = 0; i < chunk.tokens.size(); ++i) {
        const int t = chunk_offset[ci] + static_cast<int>(i);
        const int block = cache.BlockOf(*chunk.blocks, layer.type, positions[t]);
        const int slot = positions[t] % cache.block_size();
        std::copy_n(&k[static_cast<size_t>(t) * kv_heads * d], kv_heads * d,
                    cache.Key(li, block, slot));
        std::copy_n(&v[static_cast<size_t>(t) * kv_heads * d], kv_heads * d,
                    cache.Value(li, block, slot));
      }
    }
    std::vector<float> attention(static_cast<size_t>(total) * heads * d, 0.f);
    for (size_t ci = 0; ci < chunks.size(); ++ci) {
      const ForwardChunk& chunk = chunks[ci];
      const int n = static_cast<int>(chunk.tokens.size());
      // Rows of every key/value position this chunk's queries can see, resolved once.
      const int lo = layer.type == LayerType::kFull
                         ? 0
                         : std::max(0, chunk.start_position - c.sliding_window + 1);
      const int hi = chunk.start_position + n;
      std::vector<const float*> keys(hi - lo), values(hi - lo);
      for (int j = lo; j < hi; ++j) {
        const int32_t block = cache.BlockOf(*chunk.blocks, layer.type, j);
        keys[j - lo] = cache.Key(li, block, j % cache.block_size());
        values[j - lo] = cache.Value(li, block, j % cache.block_size());
      }
#pragma omp parallel for collapse(2) schedule(dynamic)
      for (int i = 0; i < n; ++i) {
        for (int head = 0; head < heads; ++head) {
          const int t = chunk_offset[ci] + i;
          const int p = positions[t];
          int first = layer.type == LayerType::kFull ? 0 : std::max(0, p - c.sliding_window + 1);
          int last = p;
          if (layer.type == LayerType::kSliding && c.bidirectional_vision) {
            // Inside an image, sliding layers also see the image's later positions.
            for (const MediaSpan& span : chunk.media) {
              if (span.kind == MediaKind::kImage && p >= span.position &&
                  p < span.position + span.num_tokens) {
                first = std::min(first, span.position);
                last = span.position + span.num_tokens - 1;
              }
            }
          }
          const int kv_offset = (head / group) * d;
          const float* query = &q[(static_cast<size_t>(t) * heads + head) * d];
          std::vector<float> scores(last - first + 1);
          for (int j = first; j <= last; ++j) {
            // Gemma 4 scales attention logits by 1.0.
            scores[j - first] = cpu::Dot(query, keys[j - lo] + kv_offset, d);
          }
          cpu::Softmax(scores.data(), static_cast<int>(scores.size()));
          float* out = &attention[(static_cast<size_t>(t) * heads + head) * d];
          for (int j = first; j <= last; ++j) {
            cpu::Axpy(scores[j - first], values[j - lo] + kv_offset, d, out);
          }
        }
      }
    }
    cpu::MatMul(layer.o, attention.data(), total, residual.data());
    if (comm != nullptr) {
      absl::Status s =
          Timed(stats, [&] { return comm->AllReduceSum(residual.data(), residual.size()); });
      if (!s.ok()) return s;
    }
    cpu::RmsNorm(residual.data(), layer.post_attention_norm.data(), total, hidden, c.rms_norm_eps,
                 residual.data());
    for (size_t e = 0; e < h.size(); ++e) h[e] += residual[e];

    absl::Status ffn = FeedForwardBlock(layer, c, total, options.gelu, h.data(), comm, stats);
    if (!ffn.ok()) return ffn;
  }

  // Final norm and the tied LM head on the requested rows only.
  std::vector<int> rows;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const int n = static_cast<int>(chunks[ci].tokens.size());
    for (int i = chunks[ci].all_logits ? 0 : n - 1; i < n; ++i) rows.push_back(chunk_offset[ci] + i);
  }
  std::vector<float> selected(rows.size() * hidden);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy_n(&h[static_cast<size_t>(rows[r]) * hidden], hidden, &selected[r * hidden]);
  }
  cpu::RmsNorm(selected.data(), weights_.final_norm.data(), static_cast<int>(rows.size()), hidden,
               c.rms_norm_eps, selected.data());
  if (hidden_out != nullptr) *hidden_out = selected;
  const size_t slice = static_cast<size_t>(weights_.embed.rows);  // This rank's vocabulary.
  std::vector<float> local(rows.size() * slice);
  cpu::MatMul(weights_.embed, selected.data(), static_cast<int>(rows.size()), local.data());
  if (c.final_logit_softcap > 0) {
    cpu::Softcap(local.data(), static_cast<int64_t>(local.size()), c.final_logit_softcap);
  }
  if (comm == nullptr) {
    *logits = std::move(local);
    return absl::OkStatus();
  }
  // All-gather the vocabulary slices: gathered is [rank][row][slice]; logits is [row][vocab].
  std::vector<float> gathered(local.size() * tp_.world_size);
  const int64_t before = stats != nullptr ? stats->communication_ns : 0;
  absl::Status s =
      Timed(stats, [&] { return comm->AllGather(local.data(), local.size(), gathered.data()); });
  if (!s.ok()) return s;
  if (stats != nullptr) stats->logits_gather_ns += stats->communication_ns - before;
  logits->resize(rows.size() * static_cast<size_t>(c.vocab_size));
  for (int r = 0; r < tp_.world_size; ++r) {
    for (size_t row = 0; row < rows.size(); ++row) {
      std::copy_n(&gathered[(r * rows.size() + row) * slice], slice,
                  &(*logits)[row * c.vocab_size + r * slice]);
    }
  }
  return absl::OkStatus();
}

}  // namespace gemma
