#include "engine/model/gemma4_drafter.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/cpu/kernels.h"

namespace gemma {

Gemma4Drafter::Gemma4Drafter(std::unique_ptr<Checkpoint> checkpoint)
    : checkpoint_(std::move(checkpoint)) {}

absl::StatusOr<std::unique_ptr<Gemma4Drafter>> Gemma4Drafter::Load(const std::string& path,
                                                                   const Gemma4Model& target) {
  return Load(path, target.config(), target.tensor_parallel());
}

absl::StatusOr<std::unique_ptr<Gemma4Drafter>> Gemma4Drafter::Load(const std::string& path,
                                                                   const Gemma4Config& t,
                                                                   const TensorParallel& tp) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(path, true);
  if (!checkpoint.ok()) return checkpoint.status();
  std::unique_ptr<Gemma4Drafter> drafter(new Gemma4Drafter(std::move(*checkpoint)));
  const Gemma4Config& d = drafter->config();
  auto mismatch = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": drafter does not fit the target model: ", what));
  };
  if (d.drafter_backbone_hidden_size != t.hidden_size) {
    return mismatch(absl::StrCat("backbone_hidden_size ", d.drafter_backbone_hidden_size,
                                 " != target hidden_size ", t.hidden_size));
  }
  if (d.vocab_size != t.vocab_size) return mismatch("vocabulary sizes differ");
  if (d.sliding_window != t.sliding_window) return mismatch("sliding windows differ");
  for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
    if (d.geometry(type).head_dim != t.geometry(type).head_dim ||
        d.geometry(type).num_kv_heads != t.geometry(type).num_kv_heads) {
      return mismatch("head dims or KV heads differ from the target's");
    }
  }
  // Each drafter layer reads the last target layer of its type.
  for (LayerType type : d.layer_types) {
    int source = -1;
    for (int i = 0; i < t.num_layers(); ++i) {
      if (t.layer_types[i] == type) source = i;
    }
    if (source < 0) return mismatch("the target has no layer of a type the drafter reads");
    drafter->source_layer_.push_back(source);
  }
  const Checkpoint& c = *drafter->checkpoint_;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols,
                    Matrix* out) -> absl::Status {
    absl::StatusOr<const TensorView*> tensor = c.Require(name);
    if (!tensor.ok()) return tensor.status();
    if ((*tensor)->shape != std::vector<int64_t>{rows, cols}) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", c.StoredName(name),
                                                     " has shape ", ShapeString((*tensor)->shape),
                                                     ", expected ", ShapeString({rows, cols})));
    }
    *out = Matrix{(*tensor)->dtype, rows, cols, (*tensor)->data};
    return absl::OkStatus();
  };
  const int64_t h = d.hidden_size, backbone = t.hidden_size;
  absl::Status s = ValidateSharding(d, tp);
  if (!s.ok()) return mismatch(std::string(s.message()));
  drafter->tp_ = tp;
  drafter->shard_config_ = ShardConfig(d, tp);
  if (!(s = matrix("embed_tokens.weight", d.vocab_size, h, &drafter->embed_)).ok()) return s;
  const int64_t vocab_rows = d.vocab_size / tp.world_size;
  drafter->vocab_begin_ = tp.rank * vocab_rows;
  drafter->embed_ = RowSlice(drafter->embed_, drafter->vocab_begin_, vocab_rows);
  if (!(s = matrix("pre_projection.weight", h, 2 * backbone, &drafter->pre_projection_)).ok()) {
    return s;
  }
  if (!(s = matrix("post_projection.weight", backbone, h, &drafter->post_projection_)).ok()) {
    return s;
  }
  absl::StatusOr<const TensorView*> norm = c.Require("norm.weight");
  if (!norm.ok()) return norm.status();
  if ((*norm)->shape != std::vector<int64_t>{h}) return mismatch("norm.weight shape");
  drafter->final_norm_.resize(h);
  ConvertToF32((*norm)->dtype, (*norm)->data, h, drafter->final_norm_.data());
  drafter->layers_.resize(d.num_layers());
  for (int i = 0; i < d.num_layers(); ++i) {
    if (!(s = LoadLayerWeights(c, d, i, /*with_kv=*/false, &drafter->layers_[i], tp,
                               &drafter->owned_))
             .ok()) {
      return s;
    }
  }
  drafter->sliding_inv_freq_ = RopeInverseFrequencies(d.sliding);
  drafter->full_inv_freq_ = RopeInverseFrequencies(d.full);
  return drafter;
}

absl::Status Gemma4Drafter::Draft(const Gemma4Model& target, const KvCache& cache,
                                  const BlockTables& blocks, int32_t token, int position,
                                  absl::Span<const float> target_hidden, int count,
                                  std::vector<int32_t>* drafts) const {
  return DraftWithLogits(target, cache, blocks, token, position, target_hidden, count,
                         cpu::Gelu::kTanh, drafts, nullptr);
}

absl::Status Gemma4Drafter::DraftWithLogits(const Gemma4Model& target, const KvCache& cache,
                                            const BlockTables& blocks, int32_t token, int position,
                                            absl::Span<const float> target_hidden, int count,
                                            cpu::Gelu gelu, std::vector<int32_t>* drafts,
                                            std::vector<float>* step_logits) const {
  const Gemma4Config& d = shard_config_;  // This rank's heads and MLP width.
  const Gemma4Config& t = target.config();
  parallel::Communicator* const comm = tp_.world_size > 1 ? tp_.communicator : nullptr;
  if (static_cast<int>(target_hidden.size()) != t.hidden_size) {
    return absl::InvalidArgumentError("drafter: target hidden state has the wrong width");
  }
  if (position < 1 || token < 0 || token >= t.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("drafter: token ", token, " at position ", position, " is out of range"));
  }
  for (int j = 0; j < position; ++j) {
    const bool in_window = j > position - d.sliding_window;
    if (cache.BlockOf(blocks, LayerType::kFull, j) < 0 ||
        (in_window && cache.BlockOf(blocks, LayerType::kSliding, j) < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("drafter: block tables do not cover position ", j));
    }
  }
  drafts->clear();
  const int h = d.hidden_size, backbone = t.hidden_size;
  std::vector<float> input(2 * backbone), x(h), normed(h),
      g(target_hidden.begin(), target_hidden.end());
  std::vector<float> logits(embed_.rows);  // This rank's slice of the vocabulary.
  const Gemma4Weights& target_weights = target.weights();
  int32_t current = token;
  for (int step = 0; step < count; ++step) {
    // The target's (vocab-parallel) embedding of the current token.
    std::fill(input.begin(), input.begin() + backbone, 0.f);
    const int64_t row = current - target.vocab_begin();
    if (row >= 0 && row < target_weights.embed.rows) {
      ConvertToF32(target_weights.embed.dtype, target_weights.embed.row(row), backbone,
                   input.data());
      for (int e = 0; e < backbone; ++e) input[e] *= target_weights.embed_scale;
    }
    if (comm != nullptr) {
      absl::Status s = comm->AllReduceSum(input.data(), backbone);
      if (!s.ok()) return s;
    }
    std::copy(g.begin(), g.end(), input.begin() + backbone);
    cpu::MatMul(pre_projection_, input.data(), 1, x.data());
    for (size_t li = 0; li < layers_.size(); ++li) {
      const Gemma4LayerWeights& layer = layers_[li];
      const AttentionGeometry& geometry = d.geometry(layer.type);
      const int dim = geometry.head_dim, heads = d.num_heads, group = heads / geometry.num_kv_heads;
      const float* inv_freq =
          layer.type == LayerType::kFull ? full_inv_freq_.data() : sliding_inv_freq_.data();
      cpu::RmsNorm(x.data(), layer.input_norm.data(), 1, h, d.rms_norm_eps, normed.data());
      std::vector<float> q(static_cast<size_t>(heads) * dim), attention(q.size(), 0.f);
      cpu::MatMul(layer.q, normed.data(), 1, q.data());
      cpu::RmsNorm(q.data(), layer.q_norm.data(), heads, dim, d.rms_norm_eps, q.data());
      cpu::ApplyRope(q.data(), heads, dim, geometry.rotated_pairs, inv_freq, position);
      const int first =
          layer.type == LayerType::kFull ? 0 : std::max(0, position - d.sliding_window + 1);
      const int source = source_layer_[li];
      for (int head = 0; head < heads; ++head) {
        const int kv_offset = (head / group) * dim;
        std::vector<float> scores(position - first);
        for (int j = first; j < position; ++j) {
          const float* key =
              cache.Key(source, cache.BlockOf(blocks, layer.type, j), j % cache.block_size()) +
              kv_offset;
          scores[j - first] = cpu::Dot(&q[static_cast<size_t>(head) * dim], key, dim);
        }
        cpu::Softmax(scores.data(), static_cast<int>(scores.size()));
        for (int j = first; j < position; ++j) {
          const float* value =
              cache.Value(source, cache.BlockOf(blocks, layer.type, j), j % cache.block_size()) +
              kv_offset;
          cpu::Axpy(scores[j - first], value, dim, &attention[static_cast<size_t>(head) * dim]);
        }
      }
      std::vector<float> out(h);
      cpu::MatMul(layer.o, attention.data(), 1, out.data());
      if (comm != nullptr) {
        absl::Status s = comm->AllReduceSum(out.data(), out.size());
        if (!s.ok()) return s;
      }
      cpu::RmsNorm(out.data(), layer.post_attention_norm.data(), 1, h, d.rms_norm_eps, out.data());
      for (int e = 0; e < h; ++e) x[e] += out[e];
      absl::Status ffn = FeedForwardBlock(layer, d, 1, gelu, x.data(), comm);
      if (!ffn.ok()) return ffn;
    }
    cpu::RmsNorm(x.data(), final_norm_.data(), 1, h, d.rms_norm_eps, normed.data());
    cpu::MatMul(embed_, normed.data(), 1, logits.data());
    if (step_logits != nullptr)
      step_logits->insert(step_logits->end(), logits.begin(), logits.end());
    const size_t local = std::max_element(logits.begin(), logits.end()) - logits.begin();
    current = static_cast<int32_t>(vocab_begin_ + local);
    if (comm != nullptr) {
      // Distributed argmax: every rank's best (logit, token); the highest wins, ties to the
      // lowest token as in one argmax over the whole vocabulary. Token ids are exact in f32.
      const float mine[2] = {logits[local], static_cast<float>(current)};
      std::vector<float> all(2 * tp_.world_size);
      absl::Status s = comm->AllGather(mine, 2, all.data());
      if (!s.ok()) return s;
      for (int r = 0; r < tp_.world_size; ++r) {
        if (r == 0 || all[2 * r] > all[0]) {
          all[0] = all[2 * r];
          all[1] = all[2 * r + 1];
        }
      }
      current = static_cast<int32_t>(all[1]);
    }
    drafts->push_back(current);
    cpu::MatMul(post_projection_, normed.data(), 1, g.data());
  }
  return absl::OkStatus();
}

}  // namespace gemma
