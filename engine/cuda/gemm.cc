#include "engine/cuda/gemm.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gemma::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;

absl::Status LtStatus(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": cuBLASLt status ", static_cast<int>(status)));
}

// Owns the descriptors of one call.
struct Descriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  ~Descriptors() {
    if (preference != nullptr) cublasLtMatmulPreferenceDestroy(preference);
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
  }
};

}  // namespace

// Descriptors and the heuristic's algorithm for one (m, n, k), made once.
struct Gemm::Plan {
  Descriptors descriptors;
  cublasLtMatmulAlgo_t algo;
};

absl::StatusOr<Gemm> Gemm::Create() {
  Gemm gemm;
  absl::Status s = LtStatus(cublasLtCreate(&gemm.handle_), "cublasLtCreate");
  if (!s.ok()) return s;
  s = gemm.workspace_.Allocate(kWorkspaceBytes);
  if (!s.ok()) return s;
  return gemm;
}

Gemm::~Gemm() {
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

Gemm::Gemm(Gemm&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      workspace_(std::move(other.workspace_)),
      plans_(std::move(other.plans_)) {}

absl::StatusOr<const Gemm::Plan*> Gemm::PlanFor(int m, int n, int k) const {
  const std::tuple<int, int, int> key(m, n, k);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  auto plan = std::make_unique<Plan>();
  Descriptors& d = plan->descriptors;
  absl::Status s = LtStatus(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                            "cublasLtMatmulDescCreate");
  if (!s.ok()) return s;
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose));
  cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none));
  // A = W^T as stored: k x n column-major, used transposed; B = X^T: k x m; C = Y^T: n x m.
  if (!(s = LtStatus(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16BF, k, n, k), "layout A")).ok() ||
      !(s = LtStatus(cublasLtMatrixLayoutCreate(&d.b, CUDA_R_16BF, k, m, k), "layout B")).ok() ||
      !(s = LtStatus(cublasLtMatrixLayoutCreate(&d.c, CUDA_R_32F, n, m, n), "layout C")).ok() ||
      !(s = LtStatus(cublasLtMatmulPreferenceCreate(&d.preference), "preference")).ok()) {
    return s;
  }
  const size_t workspace = workspace_.bytes();
  cublasLtMatmulPreferenceSetAttribute(d.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                       &workspace, sizeof(workspace));
  cublasLtMatmulHeuristicResult_t heuristic = {};
  int found = 0;
  s = LtStatus(cublasLtMatmulAlgoGetHeuristic(handle_, d.op, d.a, d.b, d.c, d.c, d.preference, 1,
                                              &heuristic, &found),
               "cublasLtMatmulAlgoGetHeuristic");
  if (!s.ok()) return s;
  if (found == 0) {
    return absl::InternalError(
        absl::StrCat("cuBLASLt has no algorithm for ", m, " x ", n, " x ", k));
  }
  plan->algo = heuristic.algo;
  const Plan* result = plan.get();
  plans_.emplace(key, std::move(plan));
  return result;
}

absl::Status Gemm::Run(const uint16_t* w, const uint16_t* x, float* y, int m, int n, int k,
                       cudaStream_t stream) const {
  if (m <= 0 || n <= 0 || k <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("GEMM sizes ", m, " x ", n, " x ", k));
  }
  absl::StatusOr<const Plan*> plan = PlanFor(m, n, k);
  if (!plan.ok()) return plan.status();
  const Descriptors& d = (*plan)->descriptors;
  const float alpha = 1.f, beta = 0.f;
  return LtStatus(cublasLtMatmul(handle_, d.op, &alpha, w, d.a, x, d.b, &beta, y, d.c, y, d.c,
                                 &(*plan)->algo, workspace_.data(), workspace_.bytes(), stream),
                  "cublasLtMatmul");
}

}  // namespace gemma::cuda
