// CUDA basics for the host side of the GPU backend: statuses, device memory owned by RAII
// buffers, and the test/bench probe for a usable GPU.
#ifndef GEMMA_ENGINE_CUDA_DEVICE_H_
#define GEMMA_ENGINE_CUDA_DEVICE_H_

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define GEMMA_CUDA_RETURN_IF_ERROR(expr)                     \
  do {                                                       \
    const absl::Status gemma_cuda_status_ = (expr);          \
    if (!gemma_cuda_status_.ok()) return gemma_cuda_status_; \
  } while (0)

namespace gemma::cuda {

// OK, or INTERNAL naming `what` and CUDA's message (out of memory: RESOURCE_EXHAUSTED).
absl::Status CudaStatus(cudaError_t error, const char* what);

// True when a CUDA device can be used; otherwise `why` says why (no driver, no device).
bool HasGpu(std::string* why);

// Device memory, freed on destruction. Movable, not copyable.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Frees what it held and allocates `bytes` (uninitialised; 0 bytes holds nothing).
  absl::Status Allocate(size_t bytes);
  // Allocates and copies `bytes` from host memory (synchronous).
  absl::Status Upload(const void* host, size_t bytes);
  template <typename T>
  absl::Status Upload(const std::vector<T>& host) {
    return Upload(host.data(), host.size() * sizeof(T));
  }
  // Reallocates (contents lost) only when smaller than `bytes`.
  absl::Status Reserve(size_t bytes) {
    return bytes_ >= bytes ? absl::OkStatus() : Allocate(bytes);
  }
  // Reserves room for `host` (at least one element) and copies it, enqueued on `stream`.
  template <typename T>
  absl::Status UploadAsync(const std::vector<T>& host, cudaStream_t stream) {
    const absl::Status reserved = Reserve(std::max<size_t>(host.size(), 1) * sizeof(T));
    if (!reserved.ok() || host.empty()) return reserved;
    return CudaStatus(cudaMemcpyAsync(data_, host.data(), host.size() * sizeof(T),
                                      cudaMemcpyHostToDevice, stream),
                      "upload");
  }
  // Copies the first `bytes` to host memory (synchronous).
  absl::Status Download(void* host, size_t bytes) const;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_DEVICE_H_
