// Links the CUDA path (cudart, cuBLASLt, NCCL) on every machine; runs the kernel only where a GPU
// is present and otherwise skips, saying so.
#include "engine/cuda/rms_norm.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

bool HasGpu(std::string* why) {
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
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

std::vector<float> ReferenceRmsNorm(const std::vector<float>& x, const std::vector<float>& w,
                                    int rows, int cols, float eps) {
  std::vector<float> y(x.size());
  for (int r = 0; r < rows; ++r) {
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += double(x[r * cols + c]) * x[r * cols + c];
    double scale = 1.0 / std::sqrt(sum / cols + eps);
    for (int c = 0; c < cols; ++c) {
      y[r * cols + c] = float(x[r * cols + c] * scale * (w.empty() ? 1.0 : w[c]));
    }
  }
  return y;
}

TEST(CudaLinkTest, LibrariesLoadWithoutAGpu) {
  // These need no device: they prove the Bazel link targets point at real libraries.
  int runtime_version = 0;
  EXPECT_EQ(cudaRuntimeGetVersion(&runtime_version), cudaSuccess);
  EXPECT_GE(runtime_version, 12000);
  int nccl_version = 0;
  EXPECT_EQ(ncclGetVersion(&nccl_version), ncclSuccess);
  EXPECT_GT(nccl_version, 0);
  EXPECT_GT(cublasLtGetVersion(), 0u);
}

class RmsNormGpuTest : public ::testing::TestWithParam<bool> {};

TEST_P(RmsNormGpuTest, MatchesReference) {
  std::string why;
  if (!HasGpu(&why)) GTEST_SKIP() << "GPU test skipped: " << why;
  const bool with_weight = GetParam();
  const int rows = 7, cols = 3840;
  const float eps = 1e-6f;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> x(rows * cols), w;
  for (float& v : x) v = normal(rng);
  if (with_weight) {
    w.resize(cols);
    for (float& v : w) v = normal(rng);
  }
  float *dx, *dw = nullptr, *dy;
  ASSERT_EQ(cudaMalloc(&dx, x.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dy, x.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  if (with_weight) {
    ASSERT_EQ(cudaMalloc(&dw, w.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  ASSERT_EQ(LaunchRmsNorm(dx, dw, dy, rows, cols, eps, nullptr), cudaSuccess);
  std::vector<float> y(x.size());
  ASSERT_EQ(cudaMemcpy(y.data(), dy, y.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<float> expected = ReferenceRmsNorm(x, w, rows, cols, eps);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y[i], expected[i], 1e-5f * (1.f + std::fabs(expected[i]))) << "at " << i;
  }
  cudaFree(dx);
  cudaFree(dy);
  if (dw != nullptr) cudaFree(dw);
}

INSTANTIATE_TEST_SUITE_P(WeightAndWeightless, RmsNormGpuTest, ::testing::Bool());

TEST(RmsNormLaunchTest, RejectsEmptyShapes) {
  EXPECT_EQ(LaunchRmsNorm(nullptr, nullptr, nullptr, 0, 16, 1e-6f, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace gemma::cuda
