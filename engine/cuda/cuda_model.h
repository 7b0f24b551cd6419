// The Gemma 4 decoder on a GPU (one per tensor-parallel rank): bf16 weights (cuBLASLt GEMMs, f32
// accumulation), f32 activations, a paged bf16 KV cache, the step planned on the host
// (step_plan.h). Same step contract as the CPU Gemma4Model::Forward (any mix of prefill chunks and
// decodes, logits of the last or every position, softcapped, optional final-normed hidden states);
// results agree with it to bf16 tolerance (GEMM inputs and K/V are rounded to bf16; the CPU engine
// keeps f32).
//
// Attention is paged (flash-decoding with split-K for long rows at small batch, kernels.h).
// Images and audio go through the GPU embedders (cuda_embedders.h). Decode-only steps replay
// CUDA graphs. Tensor parallelism over NCCL (Load). Logits come back to the host (sampling.h
// samples on the device for callers that keep them there). Thread-compatible: one Forward at a
// time.
#ifndef GEMMA_ENGINE_CUDA_CUDA_MODEL_H_
#define GEMMA_ENGINE_CUDA_CUDA_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/cuda/cuda_embedders.h"
#include "engine/cuda/device.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/layer_ops.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"
#include "parallel/nccl_communicator.h"

namespace gemma::cuda {

// Per layer K and V [num_blocks(type) * block_size, kv_heads(type) * head_dim(type)] bf16: the
// CPU KvCache's layout (kv_cache.h) in bf16, so block tables mean the same on both.
class CudaKvCache {
 public:
  static absl::StatusOr<CudaKvCache> Create(const Gemma4Config& config,
                                            const KvCacheOptions& options);
  int block_size() const { return options_.block_size; }
  // Unique per Create (kept by moves): what a captured CUDA graph checks its cache by, since a
  // new cache can reuse a freed one's addresses.
  uint64_t id() const { return id_; }
  uint16_t* keys(int layer) const { return layers_[layer].keys.as<uint16_t>(); }
  uint16_t* values(int layer) const { return layers_[layer].values.as<uint16_t>(); }
  size_t bytes() const;

 private:
  struct Layer {
    DeviceBuffer keys, values;
  };
  KvCacheOptions options_;
  uint64_t id_ = 0;
  std::vector<Layer> layers_;
};

class CudaGemma4Model {
 public:
  // An HF directory or GGUF (via the CPU loader), every matrix converted to bf16 on upload.
  // With `nccl` (world size > 1; its device current on this thread), this rank's shard
  // (engine/model/tensor_parallel.h): partial sums of the row-parallel projections and of the
  // vocab-parallel embedding are all-reduced on the device, the LM head's vocabulary slices
  // all-gathered; every rank must run the same steps.
  static absl::StatusOr<std::unique_ptr<CudaGemma4Model>> Load(
      const std::string& path, parallel::NcclCommunicator* nccl = nullptr);
  // Random bf16 weights with `config`'s shapes (benchmarks at the 12B's size without a 24 GB
  // checkpoint): matrices N(0, 1/fan_in), norms and layer scalars 1.
  static absl::StatusOr<std::unique_ptr<CudaGemma4Model>> CreateRandom(const Gemma4Config& config,
                                                                       uint64_t seed);
  ~CudaGemma4Model();

  const Gemma4Config& config() const { return config_; }
  // This rank's heads, KV heads and MLP width: size CudaKvCache by it.
  const Gemma4Config& shard_config() const { return shard_config_; }
  const TensorParallel& tensor_parallel() const { return tp_; }
  // For the GPU drafter, which shares the embedding, the GEMM handle and the stream.
  const uint16_t* embed() const { return embed_.as<uint16_t>(); }
  float embed_scale() const { return embed_scale_; }
  const Gemm& gemm() const { return *gemm_; }
  cudaStream_t stream() const { return stream_; }
  int multiprocessors() const { return multiprocessors_; }
  // Bytes of weights one decode step reads (all matrices and the LM head).
  size_t weight_bytes() const { return weight_bytes_; }

  // As Gemma4Model::Forward (INVALID_ARGUMENT for the same inputs); `logits` and `hidden` land
  // on the host.
  absl::Status Forward(absl::Span<const ForwardChunk> chunks, CudaKvCache& cache,
                       std::vector<float>* logits, std::vector<float>* hidden = nullptr);
  // Decode-only steps replay a CUDA graph per batch size (on by default).
  void set_use_cuda_graphs(bool use) { use_cuda_graphs_ = use; }

  // The same, leaving the logits on the device (benchmarks: no host copy). The pointer is valid
  // until the next call.
  absl::StatusOr<const float*> ForwardOnDevice(absl::Span<const ForwardChunk> chunks,
                                               CudaKvCache& cache, int* logits_rows);

 private:
  struct Scratch;
  // What the kernels of one step need beyond the uploaded plan.
  struct StepShape {
    struct MediaItem {
      MediaKind kind;
      int count, grid_width;
    };
    int rows = 0, out_rows = 0;
    AttentionSplits splits[2];     // Sliding, full.
    std::vector<MediaItem> media;  // Their buffers: Scratch::media, same order.
  };
  struct DecodeGraph {
    cudaGraphExec_t exec = nullptr;
    uint64_t generation = 0;  // Scratch generation it was captured with.
    uint64_t cache = 0;       // CudaKvCache::id() it was captured with.
    bool warmed = false;      // One eager run of this size happened (GEMM plans exist).
  };
  explicit CudaGemma4Model(Gemma4Config config);
  // Plans the step and uploads the plan; `graph`: plan attention splits for any context.
  absl::Status Prepare(absl::Span<const ForwardChunk> chunks, const CudaKvCache& cache, bool graph,
                       StepShape* shape);
  // Every kernel of the step on stream_ (capturable: no allocation, no synchronisation).
  absl::Status Enqueue(const StepShape& shape, const CudaKvCache& cache);
  absl::Status Step(absl::Span<const ForwardChunk> chunks, CudaKvCache& cache, int* logits_rows,
                    bool keep_hidden);

  Gemma4Config config_;
  Gemma4Config shard_config_;
  TensorParallel tp_;
  parallel::NcclCommunicator* nccl_ = nullptr;  // Null at world size 1.
  int vocab_begin_ = 0, vocab_rows_ = 0;        // This rank's rows of the embedding.
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Gemm> gemm_;
  DeviceBuffer embed_;       // bf16 [vocab, H]; the tied LM head too.
  float embed_scale_ = 1.f;  // sqrt(H) rounded to the checkpoint embedding's dtype.
  DeviceBuffer final_norm_;  // f32 [H]
  DeviceBuffer sliding_inv_freq_, full_inv_freq_;
  std::vector<DeviceLayer> layers_;
  CudaEmbedders embedders_;
  std::unique_ptr<Scratch> scratch_;
  size_t weight_bytes_ = 0;
  int multiprocessors_ = 1;  // Of the current device (split-K planning).
  bool use_cuda_graphs_ = true;
  std::map<int, DecodeGraph> graphs_;  // By batch size.
};

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_CUDA_MODEL_H_
