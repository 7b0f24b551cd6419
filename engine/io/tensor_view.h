// A tensor inside a loaded checkpoint: a typed, shaped view of mapped bytes. Shapes are written
// outermost first, as PyTorch does ([out, in] for a Linear weight); GGUF's reversed order is
// converted on load.
#ifndef GEMMA_ENGINE_IO_TENSOR_VIEW_H_
#define GEMMA_ENGINE_IO_TENSOR_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace gemma {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // Outermost first.
  const void* data = nullptr;  // Valid while the owning file stays open.
  size_t bytes = 0;

  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::string ShapeString(const std::vector<int64_t>& shape);  // "[3, 4]"

}  // namespace gemma

#endif  // GEMMA_ENGINE_IO_TENSOR_VIEW_H_
