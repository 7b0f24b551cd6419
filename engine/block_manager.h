// KV-block accounting for the paged cache (KvCache): which physical blocks each sequence owns in
// the full-attention and sliding-window pools, prefix sharing, window eviction and rollback. It
// never touches KV memory; the router runs it and sends the resulting tables to the workers.
//
// Invariants:
//  - A block is owned by refcount; it returns to its pool's free list at zero.
//  - A block whose positions are all committed gets a content hash (a chain over the content keys
//    of every position up to its end). Free blocks keep their hash and contents until reused, so
//    a later sequence with the same prefix can revive them (prefix caching). Reuse takes
//    never-hashed blocks first, then the least recently freed.
//  - Sliding tables never hold a block whose every position is out of the window of the next
//    query (position < next - W + 1): such blocks are released as the sequence advances.
//  - Append is check-then-commit: CanAppend says whether Append would succeed; a failing Append
//    changes nothing.
// Thread-compatible: the router drives it from one scheduling thread.
#ifndef GEMMA_ENGINE_BLOCK_MANAGER_H_
#define GEMMA_ENGINE_BLOCK_MANAGER_H_

#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/kv_cache.h"

namespace gemma {

class BlockPool {
 public:
  explicit BlockPool(int num_blocks);

  int num_blocks() const { return static_cast<int>(refs_.size()); }
  int num_free() const { return static_cast<int>(fresh_.size() + cached_free_.size()); }
  int num_used() const { return num_blocks() - num_free(); }

  // A free block with refcount 1 (its old hash, if any, is dropped), or nullopt when none is free.
  std::optional<int32_t> Allocate();
  // A block holding exactly this content (hash and keys), live or free, with one more reference.
  std::optional<int32_t> Revive(uint64_t hash, absl::Span<const uint64_t> keys);
  void Ref(int32_t block) { ++refs_[block]; }
  void Release(int32_t block);
  // Marks a block's content final and findable by Revive.
  void SetHash(int32_t block, uint64_t hash, absl::Span<const uint64_t> keys);
  void ClearHash(int32_t block);
  int refs(int32_t block) const { return refs_[block]; }

 private:
  std::vector<int> refs_;
  std::deque<int32_t> fresh_;          // Free, never hashed (or hash dropped).
  std::list<int32_t> cached_free_;     // Free, hashed; least recently freed first.
  std::vector<std::list<int32_t>::iterator> cached_position_;
  std::vector<std::optional<uint64_t>> hash_of_;
  std::vector<std::vector<uint64_t>> keys_of_;
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

class BlockManager {
 public:
  BlockManager(const KvCacheOptions& options, int sliding_window);

  int block_size() const { return block_size_; }
  const BlockPool& full_pool() const { return full_; }
  const BlockPool& sliding_pool() const { return sliding_; }

  // Starts a sequence whose prompt has these content keys (token ids, or token ids mixed with a
  // media digest at media positions). Revives cached blocks for the longest prefix both pools
  // can serve and returns its length: the positions whose KV is already there (always < the
  // prompt length, so the last prompt position is computed). ALREADY_EXISTS for a known id.
  absl::StatusOr<int> AddSequence(uint64_t id, absl::Span<const uint64_t> prompt_keys);

  // Whether Append(id, count) would find the blocks it needs.
  bool CanAppend(uint64_t id, int count) const;
  // Reserves blocks for the next `count` positions (their KV is written by the next step) and
  // releases sliding blocks the window left behind. RESOURCE_EXHAUSTED changes nothing.
  absl::Status Append(uint64_t id, absl::Span<const uint64_t> keys);
  // Replaces the content keys of reserved, not yet committed positions from `position` on (a
  // speculative step reserves its draft positions before the drafts are known).
  absl::Status RewriteUncommitted(uint64_t id, int position, absl::Span<const uint64_t> keys);
  // The step wrote the appended positions: blocks they completed become cacheable.
  void Commit(uint64_t id);
  // Drops positions >= length (rejected drafts): frees whole blocks past it.
  absl::Status Truncate(uint64_t id, int length);
  // Releases every block of the sequence.
  void Free(uint64_t id);

  const BlockTables* tables(uint64_t id) const;
  int length(uint64_t id) const;  // Positions reserved (committed or not).
  double full_usage() const;      // Used fraction of the full-attention pool.

 private:
  struct Sequence {
    BlockTables tables;
    std::vector<uint64_t> keys;  // Content key of every reserved position.
    std::vector<uint64_t> block_hash;  // Chain hash of each completed logical block.
    int committed = 0;
  };
  int BlocksFor(int positions) const { return (positions + block_size_ - 1) / block_size_; }
  // First logical block the next query at `next_position` can still see in sliding layers.
  int FirstLiveSlidingBlock(int next_position) const;
  uint64_t ChainHash(uint64_t previous, absl::Span<const uint64_t> keys) const;

  const int block_size_;
  const int window_;
  BlockPool full_;
  BlockPool sliding_;
  std::unordered_map<uint64_t, Sequence> sequences_;
};

}  // namespace gemma

#endif  // GEMMA_ENGINE_BLOCK_MANAGER_H_
