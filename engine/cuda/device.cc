#include "engine/cuda/device.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace gemma::cuda {

absl::Status CudaStatus(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", cudaGetErrorString(error));
  return error == cudaErrorMemoryAllocation ? absl::ResourceExhaustedError(message)
                                            : absl::InternalError(message);
}

bool HasGpu(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(error);
    return false;
  }
  if (count == 0) {
    *why = "no CUDA device";
    return false;
  }
  return true;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

absl::Status DeviceBuffer::Allocate(size_t bytes) {
  if (data_ != nullptr) cudaFree(data_);
  data_ = nullptr;
  bytes_ = 0;
  if (bytes == 0) return absl::OkStatus();
  absl::Status s = CudaStatus(cudaMalloc(&data_, bytes), "cudaMalloc");
  if (!s.ok()) {
    data_ = nullptr;
    return s;
  }
  bytes_ = bytes;
  return absl::OkStatus();
}

absl::Status DeviceBuffer::Upload(const void* host, size_t bytes) {
  absl::Status s = Allocate(bytes);
  if (!s.ok() || bytes == 0) return s;
  return CudaStatus(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice), "upload");
}

absl::Status DeviceBuffer::Download(void* host, size_t bytes) const {
  if (bytes > bytes_) return absl::OutOfRangeError("download larger than the buffer");
  if (bytes == 0) return absl::OkStatus();
  return CudaStatus(cudaMemcpy(host, data_, bytes, cudaMemcpyDeviceToHost), "download");
}

}  // namespace gemma::cuda
