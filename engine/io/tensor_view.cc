#include "engine/io/tensor_view.h"

#include "absl/strings/str_join.h"

namespace gemma {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return "[" + absl::StrJoin(shape, ", ") + "]";
}

}  // namespace gemma
