#include "engine/cuda/layer_ops.h"

#include <utility>
#include <vector>

#include "engine/cuda/kernels.h"
#include "engine/dtype.h"

namespace gemma::cuda {

absl::Status UploadBf16(const Matrix& m, DeviceBuffer& out) {
  const size_t count = static_cast<size_t>(m.rows) * m.cols;
  std::vector<float> f32(count);
  ConvertToF32(m.dtype, m.data, count, f32.data());
  std::vector<uint16_t> bf16(count);
  for (size_t i = 0; i < count; ++i) bf16[i] = F32ToBf16(f32[i]);
  return out.Upload(bf16);
}

absl::Status UploadLayer(const Gemma4LayerWeights& from, DeviceLayer* to, size_t* matrix_bytes) {
  to->type = from.type;
  to->layer_scalar = from.layer_scalar;
  for (auto [host, device] : {std::pair{&from.input_norm, &to->input_norm},
                              {&from.post_attention_norm, &to->post_attention_norm},
                              {&from.pre_ffn_norm, &to->pre_ffn_norm},
                              {&from.post_ffn_norm, &to->post_ffn_norm},
                              {&from.q_norm, &to->q_norm},
                              {&from.k_norm, &to->k_norm}}) {
    if (!host->empty()) GEMMA_CUDA_RETURN_IF_ERROR(device->Upload(*host));
  }
  for (auto [host, device] : {std::pair{&from.q, &to->q},
                              {&from.k, &to->k},
                              {&from.v, &to->v},
                              {&from.o, &to->o},
                              {&from.gate, &to->gate},
                              {&from.up, &to->up},
                              {&from.down, &to->down}}) {
    if (host->empty()) continue;
    GEMMA_CUDA_RETURN_IF_ERROR(UploadBf16(*host, *device));
    *matrix_bytes += device->bytes();
  }
  return absl::OkStatus();
}

absl::Status EnqueueFeedForward(const Gemm& gemm, const DeviceLayer& layer, const Gemma4Config& c,
                                int rows, float* h, const FeedForwardScratch& s,
                                cudaStream_t stream, const DeviceAllReduce* reduce) {
  const int hidden = c.hidden_size, ffn = c.intermediate_size;
  GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(LaunchRmsNormToBf16(h, layer.pre_ffn_norm.as<float>(), rows,
                                                            hidden, c.rms_norm_eps, s.x, stream),
                                        "pre-FFN norm"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      gemm.Run(layer.gate.as<uint16_t>(), s.x, s.gate, rows, ffn, hidden, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(
      gemm.Run(layer.up.as<uint16_t>(), s.x, s.up, rows, ffn, hidden, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(CudaStatus(
      LaunchGeluGate(s.gate, s.up, static_cast<int64_t>(rows) * ffn, s.activated, stream),
      "GeGLU"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      gemm.Run(layer.down.as<uint16_t>(), s.activated, s.projected, rows, hidden, ffn, stream));
  if (reduce != nullptr) {
    GEMMA_CUDA_RETURN_IF_ERROR((*reduce)(s.projected, static_cast<size_t>(rows) * hidden));
  }
  return CudaStatus(LaunchRmsNormResidual(s.projected, layer.post_ffn_norm.as<float>(), rows,
                                          hidden, c.rms_norm_eps, layer.layer_scalar, h, stream),
                    "post-FFN norm");
}

}  // namespace gemma::cuda
