#include "engine/cuda/sampling.h"

#include <algorithm>

#include "engine/cuda/kernels.h"
#include "engine/cuda/sampling_kernels.h"

namespace gemma::cuda {
namespace {

template <typename T>
absl::Status Put(const std::vector<T>& host, DeviceBuffer& buffer, cudaStream_t stream) {
  const size_t bytes = std::max<size_t>(host.size(), 1) * sizeof(T);
  if (buffer.bytes() < bytes) GEMMA_CUDA_RETURN_IF_ERROR(buffer.Allocate(bytes));
  if (host.empty()) return absl::OkStatus();
  return CudaStatus(cudaMemcpyAsync(buffer.data(), host.data(), host.size() * sizeof(T),
                                    cudaMemcpyHostToDevice, stream),
                    "sampling upload");
}

absl::Status Room(DeviceBuffer& buffer, size_t bytes) {
  return buffer.bytes() >= bytes ? absl::OkStatus() : buffer.Allocate(bytes);
}

}  // namespace

absl::Status CudaSampler::Sample(float* logits, int vocab, const SamplingBatch& batch,
                                 std::vector<int32_t>* tokens, cudaStream_t stream) {
  const int rows = batch.rows;
  tokens->assign(rows, 0);
  if (rows == 0) return absl::OkStatus();
  if (vocab <= 0) return absl::InvalidArgumentError("sampling: empty vocabulary");
  const size_t r = rows;
  for (DeviceBuffer* buffer : {&raw_best_, &best_, &drawn_, &tokens_}) {
    GEMMA_CUDA_RETURN_IF_ERROR(Room(*buffer, r * sizeof(int32_t)));
  }
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.temperature, temperature_, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.top_k, top_k_, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.top_p, top_p_, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.min_p, min_p_, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.sorted, sorted_, stream));
  GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.uniform, uniform_, stream));
  auto check = [](cudaError_t error, const char* what) { return CudaStatus(error, what); };
  // The fallback needs the raw argmax, before any penalty.
  GEMMA_CUDA_RETURN_IF_ERROR(
      check(LaunchArgmax(logits, rows, vocab, raw_best_.as<int32_t>(), stream), "raw argmax"));
  const int edits = static_cast<int>(batch.edit_row.size());
  if (edits > 0) {
    GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.edit_row, edit_row_, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.edit_token, edit_token_, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.edit_suppress, edit_suppress_, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.edit_repetition, edit_repetition_, stream));
    GEMMA_CUDA_RETURN_IF_ERROR(Put(batch.edit_subtract, edit_subtract_, stream));
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
    GEMMA_CUDA_RETURN_IF_ERROR(Room(ids_, elements * sizeof(int32_t)));
    GEMMA_CUDA_RETURN_IF_ERROR(Room(sorted_logits_, elements * sizeof(float)));
    GEMMA_CUDA_RETURN_IF_ERROR(Room(sorted_ids_, elements * sizeof(int32_t)));
    std::vector<int32_t> offsets(r + 1);
    for (size_t i = 0; i <= r; ++i) offsets[i] = static_cast<int32_t>(i * vocab);
    GEMMA_CUDA_RETURN_IF_ERROR(Put(offsets, offsets_, stream));
    size_t temp_bytes = 0;
    GEMMA_CUDA_RETURN_IF_ERROR(
        check(SortRowsDescending(nullptr, &temp_bytes, logits, sorted_logits_.as<float>(),
                                 ids_.as<int32_t>(), sorted_ids_.as<int32_t>(), rows, vocab,
                                 offsets_.as<int32_t>(), stream),
              "sort size"));
    GEMMA_CUDA_RETURN_IF_ERROR(Room(sort_temp_, std::max<size_t>(temp_bytes, 1)));
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
