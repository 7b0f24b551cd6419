#include "engine/cuda/cuda_drafter.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/cuda/kernels.h"
#include "engine/model/gemma4_drafter.h"

namespace gemma::cuda {

struct CudaGemma4Drafter::Scratch {
  DeviceBuffer input, x, normed_bf16, q, attention, attention_partial, gate, up, activated,
      projected, normed, logits, g, tokens, drafts, positions;
  DeviceBuffer first_key[2], last_key[2], key_base[2], key_slots[2];
};

CudaGemma4Drafter::CudaGemma4Drafter(const CudaGemma4Model& target, Gemma4Config config)
    : target_(target), config_(std::move(config)), scratch_(std::make_unique<Scratch>()) {}

CudaGemma4Drafter::~CudaGemma4Drafter() = default;

absl::StatusOr<std::unique_ptr<CudaGemma4Drafter>> CudaGemma4Drafter::Load(
    const std::string& path, const CudaGemma4Model& target) {
  if (target.tensor_parallel().world_size > 1) {
    return absl::UnimplementedError(
        "the GPU drafter does not run under tensor parallelism yet (its attention would read "
        "this rank's KV heads only)");
  }
  absl::StatusOr<std::unique_ptr<Gemma4Drafter>> cpu =
      Gemma4Drafter::Load(path, target.config(), TensorParallel{});
  if (!cpu.ok()) return cpu.status();
  const Gemma4Drafter& d = **cpu;
  std::unique_ptr<CudaGemma4Drafter> drafter(new CudaGemma4Drafter(target, d.config()));
  GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(d.embed(), drafter->embed_));
  GEMMA_CUDA_RETURN_IF_ERROR(drafter->final_norm_.Upload(d.final_norm()));
  GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(d.pre_projection(), drafter->pre_projection_));
  GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(d.post_projection(), drafter->post_projection_));
  size_t bytes = 0;
  drafter->layers_.resize(d.layers().size());
  for (size_t i = 0; i < d.layers().size(); ++i) {
    GEMMA_CUDA_RETURN_IF_ERROR(UploadLayer(d.layers()[i], &drafter->layers_[i], &bytes));
  }
  drafter->source_layers_ = d.source_layers();
  GEMMA_CUDA_RETURN_IF_ERROR(
      drafter->sliding_inv_freq_.Upload(RopeInverseFrequencies(d.config().sliding)));
  GEMMA_CUDA_RETURN_IF_ERROR(
      drafter->full_inv_freq_.Upload(RopeInverseFrequencies(d.config().full)));
  return drafter;
}

absl::Status CudaGemma4Drafter::Draft(const CudaKvCache& cache,
                                      absl::Span<const DraftSequence> sequences,
                                      absl::Span<const int32_t> tokens,
                                      absl::Span<const float> hidden, int count,
                                      std::vector<int32_t>* drafts) {
  const Gemma4Config& d = config_;
  const Gemma4Config& t = target_.config();
  const int rows = static_cast<int>(sequences.size());
  const int h = d.hidden_size, backbone = t.hidden_size, ffn = d.intermediate_size;
  if (rows == 0 || count <= 0) {
    drafts->clear();
    return absl::OkStatus();
  }
  if (tokens.size() != sequences.size() || hidden.size() != static_cast<size_t>(rows) * backbone) {
    return absl::InvalidArgumentError("drafter: one token and one hidden row per sequence");
  }
  for (int32_t token : tokens) {
    if (token < 0 || token >= t.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("drafter: token ", token, " is out of range"));
    }
  }
  absl::StatusOr<StepPlan> planned = PlanDraft(sequences, t, cache.block_size());
  if (!planned.ok()) return planned.status();
  const StepPlan& plan = *planned;
  Scratch& s = *scratch_;
  cudaStream_t stream = target_.stream();
  const Gemm& gemm = target_.gemm();
  int max_q = 0;
  for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
    max_q = std::max(max_q, d.num_heads * d.geometry(type).head_dim);
  }
  AttentionSplits splits[2];
  size_t partial_floats = 1;
  for (int type = 0; type < 2; ++type) {
    const AttentionGeometry& g = type == 1 ? d.full : d.sliding;
    splits[type] = PlanAttentionSplits(rows, d.num_heads, g.head_dim, plan.plan[type].max_keys,
                                       target_.multiprocessors());
    partial_floats = std::max(partial_floats, splits[type].scratch_floats);
  }
  const size_t r = rows, f32 = sizeof(float), bf16 = sizeof(uint16_t);
  for (auto [buffer, bytes] : {std::pair{&s.input, r * 2 * backbone * bf16},
                               {&s.x, r * h * f32},
                               {&s.normed_bf16, r * std::max(h, ffn) * bf16},
                               {&s.q, r * max_q * f32},
                               {&s.attention, r * max_q * bf16},
                               {&s.attention_partial, partial_floats * f32},
                               {&s.gate, r * ffn * f32},
                               {&s.up, r * ffn * f32},
                               {&s.activated, r * ffn * bf16},
                               {&s.projected, r * h * f32},
                               {&s.normed, r * h * f32},
                               {&s.logits, r * d.vocab_size * f32},
                               {&s.g, r * backbone * f32},
                               {&s.drafts, r * count * sizeof(int32_t)}}) {
    GEMMA_CUDA_RETURN_IF_ERROR(buffer->Reserve(bytes));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(
      s.tokens.UploadAsync(std::vector<int32_t>(tokens.begin(), tokens.end()), stream));
  GEMMA_CUDA_RETURN_IF_ERROR(s.positions.UploadAsync(plan.positions, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(
      s.g.UploadAsync(std::vector<float>(hidden.begin(), hidden.end()), stream));
  for (int type = 0; type < 2; ++type) {
    GEMMA_CUDA_RETURN_IF_ERROR(s.first_key[type].UploadAsync(plan.plan[type].first_key, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(s.last_key[type].UploadAsync(plan.plan[type].last_key, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(s.key_base[type].UploadAsync(plan.plan[type].key_base, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(s.key_slots[type].UploadAsync(plan.plan[type].key_slots, stream));
  }
  auto check = [](cudaError_t error, const char* what) { return CudaStatus(error, what); };
  float* x = s.x.as<float>();
  for (int step = 0; step < count; ++step) {
    // Step 0 embeds the committed tokens; later steps the previous drafts (column step - 1).
    const int32_t* current =
        step == 0 ? s.tokens.as<int32_t>() : s.drafts.as<int32_t>() + (step - 1) * rows;
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchEmbedConcat(target_.embed(), current, s.g.as<float>(), rows, backbone,
                                target_.embed_scale(), s.input.as<uint16_t>(), stream),
              "drafter input"));
    GEMMA_CUDA_RETURN_IF_ERROR(gemm.Run(pre_projection_.as<uint16_t>(), s.input.as<uint16_t>(), x,
                                        rows, h, 2 * backbone, stream));
    for (size_t li = 0; li < layers_.size(); ++li) {
      const DeviceLayer& layer = layers_[li];
      const int type = layer.type == LayerType::kFull ? 1 : 0;
      const AttentionGeometry& g = d.geometry(layer.type);
      const int heads = d.num_heads, dim = g.head_dim;
      const int source = source_layers_[li];
      const float* inv_freq =
          type == 1 ? full_inv_freq_.as<float>() : sliding_inv_freq_.as<float>();
      uint16_t* normed_bf16 = s.normed_bf16.as<uint16_t>();
      GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchRmsNormToBf16(x, layer.input_norm.as<float>(), rows, h,
                                                           d.rms_norm_eps, normed_bf16, stream),
                                       "drafter input norm"));
      GEMMA_CUDA_RETURN_IF_ERROR(gemm.Run(layer.q.as<uint16_t>(), normed_bf16, s.q.as<float>(),
                                          rows, heads * dim, h, stream));
      GEMMA_CUDA_RETURN_IF_ERROR(
          check(LaunchQkvNormRope(s.q.as<float>(), nullptr, nullptr, layer.q_norm.as<float>(),
                                  nullptr, s.positions.as<int32_t>(), inv_freq, rows, heads, 0, dim,
                                  g.rotated_pairs, d.rms_norm_eps, false, stream),
                "drafter q norm + RoPE"));
      GEMMA_CUDA_RETURN_IF_ERROR(check(
          LaunchPagedAttention(s.q.as<float>(), cache.keys(source), cache.values(source),
                               s.first_key[type].as<int32_t>(), s.last_key[type].as<int32_t>(),
                               s.key_base[type].as<int32_t>(), s.key_slots[type].as<int32_t>(),
                               rows, heads, g.num_kv_heads, dim, splits[type],
                               s.attention_partial.as<float>(), s.attention.as<uint16_t>(), stream),
          "drafter attention"));
      GEMMA_CUDA_RETURN_IF_ERROR(gemm.Run(layer.o.as<uint16_t>(), s.attention.as<uint16_t>(),
                                          s.projected.as<float>(), rows, h, heads * dim, stream));
      GEMMA_CUDA_RETURN_IF_ERROR(check(
          LaunchRmsNormResidual(s.projected.as<float>(), layer.post_attention_norm.as<float>(),
                                rows, h, d.rms_norm_eps, 1.f, x, stream),
          "drafter post-attention norm"));
      GEMMA_CUDA_RETURN_IF_ERROR(
          EnqueueFeedForward(gemm, layer, d, rows, x,
                             {normed_bf16, s.gate.as<float>(), s.up.as<float>(),
                              s.activated.as<uint16_t>(), s.projected.as<float>()},
                             stream));
    }
    // n = RMSNorm_final(x); draft = argmax(n E^T); g' = post_projection(n).
    float* normed = s.normed.as<float>();
    uint16_t* normed_bf16 = s.normed_bf16.as<uint16_t>();
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(cudaMemsetAsync(normed, 0, r * h * f32, stream), "drafter memset"));
    GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchRmsNormResidual(x, final_norm_.as<float>(), rows, h,
                                                           d.rms_norm_eps, 1.f, normed, stream),
                                     "drafter final norm"));
    GEMMA_CUDA_RETURN_IF_ERROR(check(
        LaunchToBf16(normed, static_cast<int64_t>(rows) * h, normed_bf16, stream), "drafter cast"));
    GEMMA_CUDA_RETURN_IF_ERROR(gemm.Run(embed_.as<uint16_t>(), normed_bf16, s.logits.as<float>(),
                                        rows, d.vocab_size, h, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(check(LaunchArgmax(s.logits.as<float>(), rows, d.vocab_size,
                                                  s.drafts.as<int32_t>() + step * rows, stream),
                                     "drafter argmax"));
    GEMMA_CUDA_RETURN_IF_ERROR(gemm.Run(post_projection_.as<uint16_t>(), normed_bf16,
                                        s.g.as<float>(), rows, backbone, h, stream));
  }
  // drafts is [count, rows] on the device (one column per step): transpose on the host.
  std::vector<int32_t> by_step(static_cast<size_t>(count) * rows);
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(cudaMemcpyAsync(by_step.data(), s.drafts.data(), by_step.size() * sizeof(int32_t),
                            cudaMemcpyDeviceToHost, stream),
            "drafts download"));
  GEMMA_CUDA_RETURN_IF_ERROR(check(cudaStreamSynchronize(stream), "draft"));
  drafts->resize(by_step.size());
  for (int step = 0; step < count; ++step) {
    for (int row = 0; row < rows; ++row) (*drafts)[row * count + step] = by_step[step * rows + row];
  }
  return absl::OkStatus();
}

}  // namespace gemma::cuda
