// One penalty edit applied to one logit, as the CPU sampler's penalty step does (suppression,
// then the repetition penalty, then presence + frequency). Shared by host and device code.
#ifndef GEMMA_ENGINE_CUDA_PENALTY_EDIT_H_
#define GEMMA_ENGINE_CUDA_PENALTY_EDIT_H_

#ifdef __CUDACC__
#define GEMMA_HOST_DEVICE __host__ __device__
#else
#define GEMMA_HOST_DEVICE
#endif

namespace gemma::cuda {

GEMMA_HOST_DEVICE inline float ApplyEdit(float logit, bool suppress, float repetition,
                                         float subtract) {
  if (suppress) return -__builtin_huge_valf();
  if (repetition != 1.f) logit = logit > 0 ? logit / repetition : logit * repetition;
  return logit - subtract;
}

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_PENALTY_EDIT_H_
