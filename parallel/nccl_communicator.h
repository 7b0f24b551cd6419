// Communicator over NCCL for GPU ranks (one GPU per rank). Ranks exchange NCCL's unique id
// through the group's rendezvous store (rendezvous.h); the communicator is created non-blocking
// and every operation is waited for with a deadline, so a dead peer turns into UNAVAILABLE
// (the communicator is then aborted) instead of a hang.
//
// The Communicator interface takes host buffers: they are staged through a device buffer on the
// rank's stream. The GPU backend uses the device-pointer entry points (*OnDevice), enqueued on
// its own compute stream (and capturable into CUDA graphs), and waits for that stream with
// WaitStream, which has the same deadline. bf16 keeps the interface's default (f32 reduction, one
// rounding) for results identical to the CPU path. Builds without a GPU; Connect fails there with
// FAILED_PRECONDITION.
#ifndef GEMMA_PARALLEL_NCCL_COMMUNICATOR_H_
#define GEMMA_PARALLEL_NCCL_COMMUNICATOR_H_

#include <cuda_runtime_api.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "parallel/communicator.h"

namespace gemma::parallel {

struct NcclOptions {
  int rank = 0;
  int world_size = 1;
  int device = 0;             // CUDA device of this rank.
  std::string store_address;  // RendezvousService host:port (required when world_size > 1).
  std::string group = "default";
  std::chrono::milliseconds timeout{30000};
};

class NcclCommunicator : public Communicator {
 public:
  static absl::StatusOr<std::unique_ptr<NcclCommunicator>> Connect(const NcclOptions& options);
  ~NcclCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  absl::Status AllReduceSum(float* data, size_t count) override;
  absl::Status AllGather(const float* input, size_t count, float* output) override;
  absl::Status Broadcast(float* data, size_t count, int root) override;
  absl::Status Barrier() override;

  // In place on device memory, enqueued on `stream`; done when `stream` is (WaitStream).
  absl::Status AllReduceSumOnDevice(float* data, size_t count, cudaStream_t stream);
  // output [world_size * count] (rank r's input at r * count), on `stream`.
  absl::Status AllGatherOnDevice(const float* input, size_t count, float* output,
                                 cudaStream_t stream);
  // Waits for `stream` with the communicator's deadline; UNAVAILABLE (and the communicator
  // aborted) when a peer fails or the deadline passes.
  absl::Status WaitStream(cudaStream_t stream, const char* what);

 private:
  struct State;
  NcclCommunicator(int rank, int world_size, std::chrono::milliseconds timeout,
                   std::unique_ptr<State> state);
  // Makes room for `bytes` of device staging memory.
  absl::Status Reserve(size_t bytes);
  // Waits for the communicator's own stream (WaitStream).
  absl::Status Wait(const char* what);

  const int rank_;
  const int world_size_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
};

// The number of CUDA devices, or an explanation of why there are none usable.
int CudaDeviceCount(std::string* why);

}  // namespace gemma::parallel

#endif  // GEMMA_PARALLEL_NCCL_COMMUNICATOR_H_
