// A weight matrix as stored in a checkpoint: row-major [rows = out_features, cols = in_features]
// (PyTorch's Linear layout, and GGUF's for these tensors), in its on-disk dtype, usually a view
// into a memory-mapped file. Kernels convert rows on the fly.
#ifndef GEMMA_ENGINE_CPU_MATRIX_H_
#define GEMMA_ENGINE_CPU_MATRIX_H_

#include <cstdint>

#include "engine/dtype.h"

namespace gemma {

struct Matrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;  // Not owned.

  bool empty() const { return data == nullptr; }
  size_t row_bytes() const { return DTypeBytes(dtype, cols); }
  const void* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_bytes(); }
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_CPU_MATRIX_H_
