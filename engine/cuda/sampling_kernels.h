// The GPU sampler's kernels (sampling.h drives them; semantics in sampling_batch.h). Plain C++
// interface; asynchronous on `stream`, returning the launch error.
#ifndef GEMMA_ENGINE_CUDA_SAMPLING_KERNELS_H_
#define GEMMA_ENGINE_CUDA_SAMPLING_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace gemma::cuda {

// logits[row[i], token[i]] = ApplyEdit(...) for the `count` edits (penalty_edit.h).
cudaError_t LaunchApplyEdits(float* logits, int vocab, const int32_t* row, const int32_t* token,
                             const uint8_t* suppress, const float* repetition,
                             const float* subtract, int count, cudaStream_t stream);

// Rows with temperature > 0 and no top-k / top-p: drawn[row] = the token drawn in token order,
// -1 when every weight is 0. Other rows are left alone.
cudaError_t LaunchTokenOrderDraw(const float* logits, int rows, int vocab, const float* temperature,
                                 const float* min_p, const uint8_t* sorted, const double* uniform,
                                 int32_t* drawn, cudaStream_t stream);

// Every row's logits sorted descending with their ids (stable: ties keep the lower id first).
// With temp == nullptr only sets *temp_bytes (CUB's two-phase call). offsets: [rows + 1] of
// row * vocab; ids: [rows * vocab] scratch filled here.
cudaError_t SortRowsDescending(void* temp, size_t* temp_bytes, const float* logits,
                               float* sorted_logits, int32_t* ids, int32_t* sorted_ids, int rows,
                               int vocab, const int32_t* offsets, cudaStream_t stream);

// Rows with temperature > 0 and top-k or top-p, over their sorted logits: drawn[row] as above.
cudaError_t LaunchSortedDraw(const float* sorted_logits, const int32_t* sorted_ids, int rows,
                             int vocab, const float* temperature, const int32_t* top_k,
                             const float* top_p, const float* min_p, const uint8_t* sorted,
                             const double* uniform, int32_t* drawn, cudaStream_t stream);

// tokens[row] = greedy ? best : (drawn >= 0 ? drawn : raw_best).
cudaError_t LaunchSelectTokens(const float* temperature, const int32_t* best, const int32_t* drawn,
                               const int32_t* raw_best, int rows, int32_t* tokens,
                               cudaStream_t stream);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_SAMPLING_KERNELS_H_
