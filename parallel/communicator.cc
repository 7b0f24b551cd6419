#include "parallel/communicator.h"

#include <vector>

#include "engine/dtype.h"

namespace gemma::parallel {

absl::Status Communicator::AllReduceSumBf16(uint16_t* data, size_t count) {
  std::vector<float> wide(count);
  for (size_t i = 0; i < count; ++i) wide[i] = Bf16ToF32(data[i]);
  absl::Status status = AllReduceSum(wide.data(), count);
  if (!status.ok()) return status;
  for (size_t i = 0; i < count; ++i) data[i] = F32ToBf16(wide[i]);
  return absl::OkStatus();
}

}  // namespace gemma::parallel
