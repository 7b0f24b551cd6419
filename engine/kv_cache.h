// Paged KV memory for one model instance: two pools, one per attention type (sliding-window and
// full layers differ in KV heads and head dim). A block id indexes the same slot range in every
// layer of its type; block b of a sequence holds positions [b * block_size, (b+1) * block_size).
//
// Layout per layer: K and V each [num_blocks][block_size][num_kv_heads][head_dim], f32.
// Which blocks a sequence owns is decided elsewhere (the block manager / the router); this class
// only stores. Thread-compatible: concurrent steps must use disjoint blocks.
#ifndef GEMMA_ENGINE_KV_CACHE_H_
#define GEMMA_ENGINE_KV_CACHE_H_

#include <cstdint>
#include <vector>

#include "engine/model/gemma4_config.h"

namespace gemma {

struct KvCacheOptions {
  int block_size = 16;
  int num_full_blocks = 0;
  int num_sliding_blocks = 0;
};

// A sequence's blocks in both pools.
struct BlockTables {
  std::vector<int32_t> full;     // full[b] holds logical block b.
  int32_t sliding_first_block = 0;  // sliding[i] holds logical block sliding_first_block + i.
  std::vector<int32_t> sliding;
};

// Tables covering positions [0, positions) with consecutive block ids from `first_block` in both
// pools (tools, benchmarks and tests that run one sequence without a block manager).
BlockTables ConsecutiveBlockTables(int positions, int block_size, int32_t first_block = 0);

class KvCache {
 public:
  KvCache(const Gemma4Config& config, const KvCacheOptions& options);

  const KvCacheOptions& options() const { return options_; }
  int block_size() const { return options_.block_size; }

  // The physical block holding `position` for a layer of `type`, or -1 when the tables do not
  // cover it (for sliding layers: it fell out of the window).
  int32_t BlockOf(const BlockTables& tables, LayerType type, int position) const;

  // [num_kv_heads][head_dim] for (layer, block, slot).
  float* Key(int layer, int32_t block, int slot);
  float* Value(int layer, int32_t block, int slot);
  const float* Key(int layer, int32_t block, int slot) const {
    return const_cast<KvCache*>(this)->Key(layer, block, slot);
  }
  const float* Value(int layer, int32_t block, int slot) const {
    return const_cast<KvCache*>(this)->Value(layer, block, slot);
  }

  size_t bytes() const;

 private:
  struct Pool {
    int num_kv_heads;
    int head_dim;
    std::vector<float> keys;
    std::vector<float> values;
  };
  size_t Offset(const Pool& pool, int32_t block, int slot) const;

  KvCacheOptions options_;
  std::vector<LayerType> layer_types_;
  std::vector<Pool> layers_;  // One per model layer.
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_KV_CACHE_H_
