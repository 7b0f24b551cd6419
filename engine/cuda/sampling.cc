#include "engine/cuda/sampling.h"

#include <algorithm>

#include "engine/cuda/kernels.h"
#include "engine/cuda/sampling_kernels.h"

namespace gemma::cuda {

absl::Status CudaSampler::Sample(float* logits, int vocab, const SamplingBatch& batch,
                                 std::vector<int32_t>* tokens, cudaStream_t stream) {
  const int rows = batch.rows;
  tokens->assign(rows, 0);
  if (rows == 0) return absl::OkStatus();
  if (vocab <= 0) return absl::InvalidArgumentError("sampling: empty vocabulary");
  const size_t r = rows;
  for (DeviceBuffer* buffer : {&raw_best_, &best_, &drawn_, &tokens_}) {
    GEMMA_CUDA_RETURN_IF_ERROR(buffer->Reserve(r * sizeof(int32_t)));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(temperature_.UploadAsync(batch.temperature, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(top_k_.UploadAsync(batch.top_k, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(top_p_.UploadAsync(batch.top_p, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(min_p_.UploadAsync(batch.min_p, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(sorted_.UploadAsync(batch.sorted, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(uniform_.UploadAsync(batch.uniform, stream));
  auto check = [](cudaError_t error, const char* what) { return CudaStatus(error, what); };
  // The fallback needs the raw argmax, before any penalty.
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchArgmax(logits, rows, vocab, raw_best_.as<int32_t>(), stream), "raw argmax"));
  const int edits = static_cast<int>(batch.edit_row.size());
  if (edits > 0) {
    GEMMA_CUDA_RETURN_IF_ERROR(edit_row_.UploadAsync(batch.edit_row, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(edit_token_.UploadAsync(batch.edit_token, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(edit_suppress_.UploadAsync(batch.edit_suppress, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(edit_repetition_.UploadAsync(batch.edit_repetition, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(edit_subtract_.UploadAsync(batch.edit_subtract, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchApplyEdits(logits, vocab, edit_row_.as<int32_t>(), edit_token_.as<int32_t>(),
                               edit_suppress_.as<uint8_t>(), edit_repetition_.as<float>(),
                               edit_subtract_.as<float>(), edits, stream),
              "penalties"));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchArgmax(logits, rows, vocab, best_.as<int32_t>(), stream), "argmax"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchTokenOrderDraw(logits, rows, vocab, temperature_.as<float>(), min_p_.as<float>(),
                                 sorted_.as<uint8_t>(), uniform_.as<double>(), drawn_.as<int32_t>(),
                                 stream),
            "draw"));
  if (std::find(batch.sorted.begin(), batch.sorted.end(), 1) != batch.sorted.end()) {
    // Every row is sorted (rows that need no sort are ignored by the draw kernel).
    const size_t elements = r * vocab;
    GEMMA_CUDA_RETURN_IF_ERROR(ids_.Reserve(elements * sizeof(int32_t)));
    GEMMA_CUDA_RETURN_IF_ERROR(sorted_logits_.Reserve(elements * sizeof(float)));
    GEMMA_CUDA_RETURN_IF_ERROR(sorted_ids_.Reserve(elements * sizeof(int32_t)));
    std::vector<int32_t> offsets(r + 1);
    for (size_t i = 0; i <= r; ++i) offsets[i] = static_cast<int32_t>(i * vocab);
    GEMMA_CUDA_RETURN_IF_ERROR(offsets_.UploadAsync(offsets, stream));
    size_t temp_bytes = 0;
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(SortRowsDescending(nullptr, &temp_bytes, logits, sorted_logits_.as<float>(),
                                 ids_.as<int32_t>(), sorted_ids_.as<int32_t>(), rows, vocab,
                                 offsets_.as<int32_t>(), stream),
              "sort size"));
    GEMMA_CUDA_RETURN_IF_ERROR(sort_temp_.Reserve(std::max<size_t>(temp_bytes, 1)));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(SortRowsDescending(sort_temp_.data(), &temp_bytes, logits, sorted_logits_.as<float>(),
                                 ids_.as<int32_t>(), sorted_ids_.as<int32_t>(), rows, vocab,
                                 offsets_.as<int32_t>(), stream),
              "sort"));
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(LaunchSortedDraw(sorted_logits_.as<float>(), sorted_ids_.as<int32_t>(), rows, vocab,
                               temperature_.as<float>(), top_k_.as<int32_t>(), top_p_.as<float>(),
                               min_p_.as<float>(), sorted_.as<uint8_t>(), uniform_.as<double>(),
                               drawn_.as<int32_t>(), stream),
              "sorted draw"));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchSelectTokens(temperature_.as<float>(), best_.as<int32_t>(), drawn_.as<int32_t>(),
                               raw_best_.as<int32_t>(), rows, tokens_.as<int32_t>(), stream),
            "select"));
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(cudaMemcpyAsync(tokens->data(), tokens_.data(), r * sizeof(int32_t),
                            cudaMemcpyDeviceToHost, stream),
            "tokens download"));
  return check(cudaStreamSynchronize(stream), "sampling");
}

}  // namespace gemma::cuda
