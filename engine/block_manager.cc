#include "engine/block_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

}  // namespace

BlockPool::BlockPool(int num_blocks)
    : refs_(num_blocks, 0),
      cached_position_(num_blocks),
      hash_of_(num_blocks),
      keys_of_(num_blocks) {
  for (int32_t b = 0; b < num_blocks; ++b) fresh_.push_back(b);
}

std::optional<int32_t> BlockPool::Allocate() {
  int32_t block;
  if (!fresh_.empty()) {
    block = fresh_.front();
    fresh_.pop_front();
  } else if (!cached_free_.empty()) {
    block = cached_free_.front();
    cached_free_.pop_front();
    ClearHash(block);
  } else {
    return std::nullopt;
  }
  refs_[block] = 1;
  return block;
}

std::optional<int32_t> BlockPool::Revive(uint64_t hash, absl::Span<const uint64_t> keys) {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int32_t block = it->second;
  if (!std::equal(keys.begin(), keys.end(), keys_of_[block].begin(), keys_of_[block].end())) {
    return std::nullopt;  // A hash collision: the contents differ.
  }
  if (refs_[block] == 0) cached_free_.erase(cached_position_[block]);
  ++refs_[block];
  return block;
}

void BlockPool::Release(int32_t block) {
  if (--refs_[block] > 0) return;
  if (hash_of_[block].has_value()) {
    cached_position_[block] = cached_free_.insert(cached_free_.end(), block);
  } else {
    fresh_.push_back(block);
  }
}

void BlockPool::SetHash(int32_t block, uint64_t hash, absl::Span<const uint64_t> keys) {
  if (hash_of_[block].has_value() || by_hash_.count(hash) != 0) return;  // Known content.
  hash_of_[block] = hash;
  keys_of_[block].assign(keys.begin(), keys.end());
  by_hash_[hash] = block;
}

void BlockPool::ClearHash(int32_t block) {
  if (!hash_of_[block].has_value()) return;
  by_hash_.erase(*hash_of_[block]);
  hash_of_[block].reset();
  keys_of_[block].clear();
}

BlockManager::BlockManager(const KvCacheOptions& options, int sliding_window)
    : block_size_(options.block_size),
      window_(sliding_window),
      full_(options.num_full_blocks),
      sliding_(options.num_sliding_blocks) {}

int BlockManager::FirstLiveSlidingBlock(int next_position) const {
  return std::max(0, next_position - window_ + 1) / block_size_;
}

uint64_t BlockManager::ChainHash(uint64_t previous, absl::Span<const uint64_t> keys) const {
  uint64_t h = Mix(previous ^ 0x9e3779b97f4a7c15ull);
  for (uint64_t key : keys) h = Mix(h ^ Mix(key + 0x632be59bd9b4e019ull));
  return h;
}

absl::StatusOr<int> BlockManager::AddSequence(uint64_t id, absl::Span<const uint64_t> prompt) {
  if (sequences_.count(id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("sequence ", id, " already exists"));
  }
  Sequence seq;
  // The last prompt position is always computed (its logits start generation).
  const int cacheable = prompt.empty() ? 0 : (static_cast<int>(prompt.size()) - 1) / block_size_;
  std::vector<uint64_t> hashes;
  uint64_t previous = 0;
  for (int b = 0; b < cacheable; ++b) {
    previous = ChainHash(previous, prompt.subspan(b * block_size_, block_size_));
    hashes.push_back(previous);
  }
  // Longest prefix of blocks the full pool has; then shrink until the sliding pool also has the
  // blocks the window needs there.
  std::vector<int32_t> full_hits;
  for (int b = 0; b < cacheable; ++b) {
    std::optional<int32_t> block = full_.Revive(hashes[b], prompt.subspan(b * block_size_, block_size_));
    if (!block) break;
    full_hits.push_back(*block);
  }
  int hit = static_cast<int>(full_hits.size());
  std::vector<int32_t> sliding_hits;
  while (hit > 0) {
    sliding_hits.clear();
    const int first = FirstLiveSlidingBlock(hit * block_size_);
    bool complete = true;
    for (int b = first; b < hit; ++b) {
      std::optional<int32_t> block =
          sliding_.Revive(hashes[b], prompt.subspan(b * block_size_, block_size_));
      if (!block) {
        complete = false;
        break;
      }
      sliding_hits.push_back(*block);
    }
    if (complete) break;
    for (int32_t block : sliding_hits) sliding_.Release(block);
    --hit;
  }
  for (size_t b = hit; b < full_hits.size(); ++b) full_.Release(full_hits[b]);
  full_hits.resize(hit);
  seq.tables.full = full_hits;
  seq.tables.sliding_first_block = hit > 0 ? FirstLiveSlidingBlock(hit * block_size_) : 0;
  seq.tables.sliding = sliding_hits;
  seq.keys.assign(prompt.begin(), prompt.begin() + hit * block_size_);
  seq.block_hash.assign(hashes.begin(), hashes.begin() + hit);
  seq.committed = hit * block_size_;
  sequences_.emplace(id, std::move(seq));
  return hit * block_size_;
}

bool BlockManager::CanAppend(uint64_t id, int count) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end() || count < 0) return false;
  const Sequence& seq = it->second;
  const int length = static_cast<int>(seq.keys.size());
  const int end = BlocksFor(length + count);
  const int full_needed = end - static_cast<int>(seq.tables.full.size());
  const int first_live = FirstLiveSlidingBlock(length);
  const int sliding_end = seq.tables.sliding_first_block + static_cast<int>(seq.tables.sliding.size());
  int releasable = 0;
  for (int b = seq.tables.sliding_first_block; b < std::min(first_live, sliding_end); ++b) {
    releasable += sliding_.refs(seq.tables.sliding[b - seq.tables.sliding_first_block]) == 1;
  }
  const int sliding_needed = end - std::max(sliding_end, first_live);
  return full_.num_free() >= std::max(0, full_needed) &&
         sliding_.num_free() + releasable >= std::max(0, sliding_needed);
}

absl::Status BlockManager::Append(uint64_t id, absl::Span<const uint64_t> keys) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  const int count = static_cast<int>(keys.size());
  if (!CanAppend(id, count)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("not enough free KV blocks for ", count, " more positions of sequence ", id));
  }
  Sequence& seq = it->second;
  BlockTables& t = seq.tables;
  const int length = static_cast<int>(seq.keys.size());
  const int end = BlocksFor(length + count);
  // Sliding blocks no query of this step can see go back to the pool.
  const int first_live = FirstLiveSlidingBlock(length);
  while (!t.sliding.empty() && t.sliding_first_block < first_live) {
    sliding_.Release(t.sliding.front());
    t.sliding.erase(t.sliding.begin());
    ++t.sliding_first_block;
  }
  if (t.sliding.empty()) t.sliding_first_block = std::max(t.sliding_first_block, first_live);
  while (static_cast<int>(t.full.size()) < end) t.full.push_back(*full_.Allocate());
  while (t.sliding_first_block + static_cast<int>(t.sliding.size()) < end) {
    t.sliding.push_back(*sliding_.Allocate());
  }
  seq.keys.insert(seq.keys.end(), keys.begin(), keys.end());
  return absl::OkStatus();
}

absl::Status BlockManager::RewriteUncommitted(uint64_t id, int position,
                                              absl::Span<const uint64_t> keys) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  Sequence& seq = it->second;
  if (position < seq.committed || position + keys.size() > seq.keys.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sequence ", id, ": positions [", position, ", ", position + keys.size(),
        ") are committed or not reserved"));
  }
  std::copy(keys.begin(), keys.end(), seq.keys.begin() + position);
  return absl::OkStatus();
}

void BlockManager::Commit(uint64_t id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  Sequence& seq = it->second;
  seq.committed = static_cast<int>(seq.keys.size());
  const BlockTables& t = seq.tables;
  for (int b = static_cast<int>(seq.block_hash.size()); (b + 1) * block_size_ <= seq.committed; ++b) {
    const absl::Span<const uint64_t> keys =
        absl::MakeConstSpan(seq.keys).subspan(b * block_size_, block_size_);
    const uint64_t hash = ChainHash(b > 0 ? seq.block_hash[b - 1] : 0, keys);
    seq.block_hash.push_back(hash);
    full_.SetHash(t.full[b], hash, keys);
    const int index = b - t.sliding_first_block;
    if (index >= 0 && index < static_cast<int>(t.sliding.size())) {
      sliding_.SetHash(t.sliding[index], hash, keys);
    }
  }
}

absl::Status BlockManager::Truncate(uint64_t id, int length) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  Sequence& seq = it->second;
  BlockTables& t = seq.tables;
  if (length < 0 || length > static_cast<int>(seq.keys.size())) {
    return absl::InvalidArgumentError(absl::StrCat("cannot truncate sequence ", id, " of length ",
                                                   seq.keys.size(), " to ", length));
  }
  if (FirstLiveSlidingBlock(length) < t.sliding_first_block ||
      (length % block_size_ != 0 && full_.refs(t.full[length / block_size_]) > 1)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sequence ", id, ": truncating to ", length,
        " would reach evicted sliding blocks or a shared prefix block"));
  }
  seq.keys.resize(length);
  seq.committed = std::min(seq.committed, length);
  const int keep = BlocksFor(length);
  // Blocks no longer complete lose their hash; blocks past the end go back to the pools.
  for (int b = length / block_size_; b < static_cast<int>(seq.block_hash.size()); ++b) {
    full_.ClearHash(t.full[b]);
    const int index = b - t.sliding_first_block;
    if (index >= 0 && index < static_cast<int>(t.sliding.size())) sliding_.ClearHash(t.sliding[index]);
  }
  seq.block_hash.resize(std::min<size_t>(seq.block_hash.size(), length / block_size_));
  while (static_cast<int>(t.full.size()) > keep) {
    full_.Release(t.full.back());
    t.full.pop_back();
  }
  while (!t.sliding.empty() && t.sliding_first_block + static_cast<int>(t.sliding.size()) > keep) {
    sliding_.Release(t.sliding.back());
    t.sliding.pop_back();
  }
  return absl::OkStatus();
}

void BlockManager::Free(uint64_t id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  for (int32_t block : it->second.tables.full) full_.Release(block);
  for (int32_t block : it->second.tables.sliding) sliding_.Release(block);
  sequences_.erase(it);
}

const BlockTables* BlockManager::tables(uint64_t id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? nullptr : &it->second.tables;
}

int BlockManager::length(uint64_t id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? -1 : static_cast<int>(it->second.keys.size());
}

double BlockManager::full_usage() const {
  return full_.num_blocks() == 0 ? 0.0 : double(full_.num_used()) / full_.num_blocks();
}

}  // namespace gemma
