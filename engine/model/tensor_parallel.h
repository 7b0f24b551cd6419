// Megatron-style sharding of the Gemma 4 decoder over `world_size` tensor-parallel ranks.
//
//   q / k / v / gate / up   column-parallel: rank r keeps a contiguous slice of output rows;
//   o / down                row-parallel: rank r keeps the matching slice of input columns and
//                           its partial sums are all-reduced (before the post-norm);
//   embed_tokens            vocab-parallel: rank r keeps rows [r V/N, (r+1) V/N); a token's row
//                           is looked up on the rank that holds it and all-reduced; the tied LM
//                           head gives each rank its vocabulary slice of the logits, all-gathered;
//   attention heads         rank r keeps query heads [r H/N, (r+1) H/N). A layer type with at
//                           least N KV heads splits them the same way; one with fewer (the 12B's
//                           full layers have one) keeps, on each rank, only the KV head its
//                           query heads read (replicated across the ranks of a group);
//   norms, embedders        replicated (every rank computes them identically).
// Requirements: N divides the query heads, the intermediate size and the vocabulary; per layer
// type N divides the KV heads or the KV heads divide N; Q8_0 column slices start on a block.
#ifndef GEMMA_ENGINE_MODEL_TENSOR_PARALLEL_H_
#define GEMMA_ENGINE_MODEL_TENSOR_PARALLEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cpu/matrix.h"
#include "engine/model/gemma4_config.h"
#include "parallel/communicator.h"

namespace gemma {

struct TensorParallel {
  int rank = 0;
  int world_size = 1;
  // Required when world_size > 1; not owned; used by one Forward at a time.
  parallel::Communicator* communicator = nullptr;
};

// INVALID_ARGUMENT naming the dimension that does not split.
absl::Status ValidateSharding(const Gemma4Config& config, const TensorParallel& tp);

// The dimensions one rank computes with: query heads, KV heads per layer type and intermediate
// size of its shard (hidden size and vocabulary stay whole).
Gemma4Config ShardConfig(const Gemma4Config& config, const TensorParallel& tp);

// First KV head (global index) that `tp.rank` keeps for a layer type.
int FirstKvHead(const Gemma4Config& config, const AttentionGeometry& geometry,
                const TensorParallel& tp);

// A view of rows [first, first + count) (no copy).
Matrix RowSlice(const Matrix& matrix, int64_t first, int64_t count);

// Columns [first, first + count) copied into `storage` (kept by the caller for the view's
// lifetime). INVALID_ARGUMENT when a block-quantized row cannot be cut there.
absl::StatusOr<Matrix> ColumnSlice(const Matrix& matrix, int64_t first, int64_t count,
                                   std::vector<std::unique_ptr<uint8_t[]>>* storage);

}  // namespace gemma

#endif  // GEMMA_ENGINE_MODEL_TENSOR_PARALLEL_H_
