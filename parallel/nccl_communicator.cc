#include "parallel/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "parallel/rendezvous.h"

namespace gemma::parallel {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* buffer = nullptr;
  size_t capacity = 0;
  bool aborted = false;
};

namespace {

absl::Status CudaStatus(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", cudaGetErrorString(error)));
}

absl::Status NcclStatus(ncclResult_t result, const char* what) {
  if (result == ncclSuccess || result == ncclInProgress) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", ncclGetErrorString(result)));
}

}  // namespace

int CudaDeviceCount(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (why != nullptr) *why = absl::StrCat("cudaGetDeviceCount: ", cudaGetErrorString(error));
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "no CUDA device";
  return count;
}

absl::StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Connect(
    const NcclOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", options.rank, " of world size ",
                                                   options.world_size, " is out of range"));
  }
  std::string why;
  if (CudaDeviceCount(&why) <= options.device) {
    return absl::FailedPreconditionError(
        absl::StrCat("CUDA device ", options.device, " unavailable: ", why));
  }
  absl::Status status = CudaStatus(cudaSetDevice(options.device), "cudaSetDevice");
  if (!status.ok()) return status;
  ncclUniqueId id;
  if (options.world_size > 1 && options.store_address.empty()) {
    return absl::InvalidArgumentError("NCCL ranks need a rendezvous store address");
  }
  try {
    if (options.world_size == 1 || options.rank == 0) {
      status = NcclStatus(ncclGetUniqueId(&id), "ncclGetUniqueId");
      if (!status.ok()) return status;
      if (options.world_size > 1) {
        GrpcStore store(options.store_address, options.group, options.timeout);
        const char* bytes = reinterpret_cast<const char*>(&id);
        store.set("nccl/unique_id", std::vector<char>(bytes, bytes + sizeof(id)));
      }
    } else {
      GrpcStore store(options.store_address, options.group, options.timeout);
      const std::vector<char> bytes = store.get("nccl/unique_id");
      if (bytes.size() != sizeof(id)) return absl::DataLossError("malformed NCCL unique id");
      std::memcpy(&id, bytes.data(), sizeof(id));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("rank ", options.rank, ": NCCL rendezvous failed: ", e.what()));
  }
  auto state = std::make_unique<State>();
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // Never block: the deadline below decides.
  status = NcclStatus(
      ncclCommInitRankConfig(&state->comm, options.world_size, id, options.rank, &config),
      "ncclCommInitRankConfig");
  if (!status.ok()) return status;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  ncclResult_t async = ncclInProgress;
  while (async == ncclInProgress) {
    ncclCommGetAsyncError(state->comm, &async);
    if (async == ncclInProgress && std::chrono::steady_clock::now() > deadline) {
      ncclCommAbort(state->comm);
      return absl::UnavailableError(absl::StrCat("rank ", options.rank, ": the NCCL group did not ",
                                                 "form within ", options.timeout.count(), " ms"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  status = NcclStatus(async, "NCCL initialisation");
  if (!status.ok()) return status;
  status = CudaStatus(cudaStreamCreateWithFlags(&state->stream, cudaStreamNonBlocking),
                      "cudaStreamCreate");
  if (!status.ok()) return status;
  return std::unique_ptr<NcclCommunicator>(
      new NcclCommunicator(options.rank, options.world_size, options.timeout, std::move(state)));
}

NcclCommunicator::NcclCommunicator(int rank, int world_size, std::chrono::milliseconds timeout,
                                   std::unique_ptr<State> state)
    : rank_(rank), world_size_(world_size), timeout_(timeout), state_(std::move(state)) {}

NcclCommunicator::~NcclCommunicator() {
  if (state_->stream != nullptr) cudaStreamSynchronize(state_->stream);
  if (state_->buffer != nullptr) cudaFree(state_->buffer);
  if (state_->stream != nullptr) cudaStreamDestroy(state_->stream);
  if (state_->comm != nullptr) {
    if (state_->aborted) return;
    ncclCommDestroy(state_->comm);
  }
}

absl::Status NcclCommunicator::Reserve(size_t bytes) {
  if (state_->aborted) return absl::UnavailableError("the NCCL communicator was aborted");
  if (bytes <= state_->capacity) return absl::OkStatus();
  if (state_->buffer != nullptr) cudaFree(state_->buffer);
  state_->buffer = nullptr;
  state_->capacity = 0;
  absl::Status status = CudaStatus(cudaMalloc(&state_->buffer, bytes), "cudaMalloc");
  if (status.ok()) state_->capacity = bytes;
  return status;
}

absl::Status NcclCommunicator::Wait(const char* what) { return WaitStream(state_->stream, what); }

absl::Status NcclCommunicator::WaitStream(cudaStream_t stream, const char* what) {
  if (state_->aborted) return absl::UnavailableError("the NCCL communicator was aborted");
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    const cudaError_t done = cudaStreamQuery(stream);
    if (done == cudaSuccess) return absl::OkStatus();
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(state_->comm, &async);
    const bool late = std::chrono::steady_clock::now() > deadline;
    if ((done != cudaErrorNotReady) || (async != ncclSuccess && async != ncclInProgress) || late) {
      ncclCommAbort(state_->comm);
      state_->aborted = true;
      return absl::UnavailableError(absl::StrCat(
          "rank ", rank_, ": ", what, late ? " timed out (a peer is gone?)" : " failed: ",
          done != cudaErrorNotReady && done != cudaSuccess ? cudaGetErrorString(done)
                                                           : ncclGetErrorString(async)));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

absl::Status NcclCommunicator::AllReduceSum(float* data, size_t count) {
  const size_t bytes = count * sizeof(float);
  absl::Status status = Reserve(bytes);
  if (!status.ok()) return status;
  cudaMemcpyAsync(state_->buffer, data, bytes, cudaMemcpyHostToDevice, state_->stream);
  status = NcclStatus(ncclAllReduce(state_->buffer, state_->buffer, count, ncclFloat32, ncclSum,
                                    state_->comm, state_->stream),
                      "ncclAllReduce");
  if (!status.ok()) return status;
  cudaMemcpyAsync(data, state_->buffer, bytes, cudaMemcpyDeviceToHost, state_->stream);
  return Wait("all-reduce");
}

absl::Status NcclCommunicator::AllGather(const float* input, size_t count, float* output) {
  const size_t bytes = count * sizeof(float);
  absl::Status status = Reserve(bytes * (world_size_ + 1));
  if (!status.ok()) return status;
  char* send = static_cast<char*>(state_->buffer);
  char* receive = send + bytes;
  cudaMemcpyAsync(send, input, bytes, cudaMemcpyHostToDevice, state_->stream);
  status =
      NcclStatus(ncclAllGather(send, receive, count, ncclFloat32, state_->comm, state_->stream),
                 "ncclAllGather");
  if (!status.ok()) return status;
  cudaMemcpyAsync(output, receive, bytes * world_size_, cudaMemcpyDeviceToHost, state_->stream);
  return Wait("all-gather");
}

absl::Status NcclCommunicator::Broadcast(float* data, size_t count, int root) {
  if (root < 0 || root >= world_size_) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " out of range"));
  }
  const size_t bytes = count * sizeof(float);
  absl::Status status = Reserve(bytes);
  if (!status.ok()) return status;
  cudaMemcpyAsync(state_->buffer, data, bytes, cudaMemcpyHostToDevice, state_->stream);
  status = NcclStatus(ncclBroadcast(state_->buffer, state_->buffer, count, ncclFloat32, root,
                                    state_->comm, state_->stream),
                      "ncclBroadcast");
  if (!status.ok()) return status;
  cudaMemcpyAsync(data, state_->buffer, bytes, cudaMemcpyDeviceToHost, state_->stream);
  return Wait("broadcast");
}

absl::Status NcclCommunicator::AllReduceSumOnDevice(float* data, size_t count,
                                                    cudaStream_t stream) {
  if (state_->aborted) return absl::UnavailableError("the NCCL communicator was aborted");
  return NcclStatus(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, state_->comm, stream),
                    "ncclAllReduce");
}

absl::Status NcclCommunicator::AllGatherOnDevice(const float* input, size_t count, float* output,
                                                 cudaStream_t stream) {
  if (state_->aborted) return absl::UnavailableError("the NCCL communicator was aborted");
  return NcclStatus(ncclAllGather(input, output, count, ncclFloat32, state_->comm, stream),
                    "ncclAllGather");
}

absl::Status NcclCommunicator::Barrier() {
  float token = 0;
  return AllReduceSum(&token, 1);
}

}  // namespace gemma::parallel
