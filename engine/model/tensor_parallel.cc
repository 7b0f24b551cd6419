#include "engine/model/tensor_parallel.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

int LocalKvHeads(const AttentionGeometry& geometry, int world_size) {
  return geometry.num_kv_heads >= world_size ? geometry.num_kv_heads / world_size : 1;
}

}  // namespace

absl::Status ValidateSharding(const Gemma4Config& c, const TensorParallel& tp) {
  const int n = tp.world_size;
  if (n < 1 || tp.rank < 0 || tp.rank >= n) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", tp.rank, " of world size ", n));
  }
  if (n > 1 && tp.communicator == nullptr) {
    return absl::InvalidArgumentError("tensor parallelism needs a communicator");
  }
  auto divides = [n](int value, const char* what) -> absl::Status {
    if (value % n != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor parallel size ", n, " does not divide ", what, " (", value, ")"));
    }
    return absl::OkStatus();
  };
  absl::Status s;
  if (!(s = divides(c.num_heads, "the query heads")).ok()) return s;
  if (!(s = divides(c.intermediate_size, "the intermediate size")).ok()) return s;
  if (!(s = divides(c.vocab_size, "the vocabulary")).ok()) return s;
  for (const AttentionGeometry* g : {&c.sliding, &c.full}) {
    const int kv = g->num_kv_heads;
    if (kv >= n ? kv % n != 0 : n % kv != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor parallel size ", n, " and ", kv,
          " KV heads: one must divide the other (a rank's query heads must share KV heads)"));
    }
  }
  return absl::OkStatus();
}

Gemma4Config ShardConfig(const Gemma4Config& c, const TensorParallel& tp) {
  Gemma4Config local = c;
  local.num_heads = c.num_heads / tp.world_size;
  local.intermediate_size = c.intermediate_size / tp.world_size;
  local.sliding.num_kv_heads = LocalKvHeads(c.sliding, tp.world_size);
  local.full.num_kv_heads = LocalKvHeads(c.full, tp.world_size);
  return local;
}

int FirstKvHead(const Gemma4Config& c, const AttentionGeometry& g, const TensorParallel& tp) {
  if (g.num_kv_heads >= tp.world_size) return tp.rank * (g.num_kv_heads / tp.world_size);
  const int group = c.num_heads / g.num_kv_heads;  // Query heads per KV head.
  return tp.rank * (c.num_heads / tp.world_size) / group;
}

Matrix RowSlice(const Matrix& m, int64_t first, int64_t count) {
  return Matrix{m.dtype, count, m.cols, static_cast<const uint8_t*>(m.data) + first * m.row_bytes()};
}

absl::StatusOr<Matrix> ColumnSlice(const Matrix& m, int64_t first, int64_t count,
                                   std::vector<std::unique_ptr<uint8_t[]>>* storage) {
  if (first == 0 && count == m.cols) return m;
  if (m.dtype == DType::kQ8_0 && (first % kQ8_0BlockSize != 0 || count % kQ8_0BlockSize != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a Q8_0 matrix cannot be split at column ", first, " (blocks of ", kQ8_0BlockSize, ")"));
  }
  const size_t offset = DTypeBytes(m.dtype, first), bytes = DTypeBytes(m.dtype, count);
  auto buffer = std::make_unique<uint8_t[]>(bytes * m.rows);
  for (int64_t r = 0; r < m.rows; ++r) {
    std::memcpy(buffer.get() + r * bytes, static_cast<const uint8_t*>(m.row(r)) + offset, bytes);
  }
  Matrix slice{m.dtype, m.rows, count, buffer.get()};
  storage->push_back(std::move(buffer));
  return slice;
}

}  // namespace gemma
