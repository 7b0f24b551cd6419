// Collectives across the tensor-parallel ranks of one worker group. One implementation per
// transport: Gloo over TCP for CPU ranks (gloo_communicator.h), NCCL for GPU ranks (issue 9).
// Every rank calls the same collectives in the same order (SPMD). A peer that does not answer
// within the communicator's timeout turns into UNAVAILABLE, never a hang. Not thread-safe: one
// caller per communicator.
#ifndef GEMMA_PARALLEL_COMMUNICATOR_H_
#define GEMMA_PARALLEL_COMMUNICATOR_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace gemma::parallel {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // data[i] = sum over ranks of data[i], in place.
  virtual absl::Status AllReduceSum(float* data, size_t count) = 0;
  // The same over bf16 values (the top halves of f32s). This default widens to f32, reduces,
  // and rounds the sums back to bf16 (nearest even); transports with native bf16 override it.
  virtual absl::Status AllReduceSumBf16(uint16_t* data, size_t count);
  // output = concatenation over ranks (rank order) of each rank's `count` inputs.
  virtual absl::Status AllGather(const float* input, size_t count, float* output) = 0;
  // data = root's data on every rank.
  virtual absl::Status Broadcast(float* data, size_t count, int root) = 0;
  virtual absl::Status Barrier() = 0;
};

}  // namespace gemma::parallel

#endif  // GEMMA_PARALLEL_COMMUNICATOR_H_
