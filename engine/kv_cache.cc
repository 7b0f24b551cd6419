#include "engine/kv_cache.h"

namespace gemma {

BlockTables ConsecutiveBlockTables(int positions, int block_size, int32_t first_block) {
  BlockTables tables;
  for (int b = 0; b * block_size < positions; ++b) {
    tables.full.push_back(first_block + b);
    tables.sliding.push_back(first_block + b);
  }
  return tables;
}

KvCache::KvCache(const Gemma4Config& config, const KvCacheOptions& options)
    : options_(options), layer_types_(config.layer_types) {
  for (LayerType type : config.layer_types) {
    const AttentionGeometry& g = config.geometry(type);
    const int blocks =
        type == LayerType::kFull ? options.num_full_blocks : options.num_sliding_blocks;
    const size_t floats =
        static_cast<size_t>(blocks) * options.block_size * g.num_kv_heads * g.head_dim;
    layers_.push_back({g.num_kv_heads, g.head_dim, std::vector<float>(floats),
                       std::vector<float>(floats)});
  }
}

int32_t KvCache::BlockOf(const BlockTables& tables, LayerType type, int position) const {
  const int logical = position / options_.block_size;
  if (type == LayerType::kFull) {
    return logical < static_cast<int>(tables.full.size()) ? tables.full[logical] : -1;
  }
  const int index = logical - tables.sliding_first_block;
  return index >= 0 && index < static_cast<int>(tables.sliding.size()) ? tables.sliding[index]
                                                                         : -1;
}

size_t KvCache::Offset(const Pool& pool, int32_t block, int slot) const {
  return (static_cast<size_t>(block) * options_.block_size + slot) * pool.num_kv_heads *
         pool.head_dim;
}

float* KvCache::Key(int layer, int32_t block, int slot) {
  Pool& pool = layers_[layer];
  return pool.keys.data() + Offset(pool, block, slot);
}

float* KvCache::Value(int layer, int32_t block, int slot) {
  Pool& pool = layers_[layer];
  return pool.values.data() + Offset(pool, block, slot);
}

size_t KvCache::bytes() const {
  size_t total = 0;
  for (const Pool& pool : layers_) total += (pool.keys.size() + pool.values.size()) * sizeof(float);
  return total;
}

}  // namespace gemma
