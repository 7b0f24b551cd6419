// What one forward step needs on the device, resolved on the host from the chunks and their
// block tables: per token row its token, position and where its K/V go; per query row and layer
// type the key positions it sees and where each key lives. Pure C++ (no CUDA), so the rules are
// tested on every machine; they equal the CPU engine's (gemma4.cc):
//   - full layers: keys 0..p; sliding layers: keys p - W + 1..p (clamped at 0);
//   - with bidirectional_vision, a query inside an image also sees the image's later positions on
//     sliding layers (the image is wholly inside its chunk).
// Key slots: the physical row (block * block_size + position % block_size) of every position a
// chunk's queries can see, chunk after chunk; a row's key j lives at key_slots[key_base + j].
#ifndef GEMMA_ENGINE_CUDA_STEP_PLAN_H_
#define GEMMA_ENGINE_CUDA_STEP_PLAN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/kv_cache.h"
#include "engine/model/gemma4.h"

namespace gemma::cuda {

// Per layer type (index 0 sliding, 1 full).
struct AttentionPlan {
  std::vector<int32_t> store_slot;  // [rows] physical row for this row's K/V.
  std::vector<int32_t> first_key;   // [rows] first visible key position.
  std::vector<int32_t> last_key;    // [rows] last visible key position (>= the row's position).
  std::vector<int32_t> key_base;    // [rows] key j of row r: key_slots[key_base[r] + j].
  std::vector<int32_t> key_slots;   // Physical rows of every visible key, chunk after chunk.
  int max_keys = 0;                 // The longest row's key count (last - first + 1).
};

struct StepPlan {
  int rows = 0;
  std::vector<int32_t> tokens;       // [rows]
  std::vector<int32_t> positions;    // [rows]
  std::vector<int32_t> logits_rows;  // Rows whose logits are returned, in order.
  AttentionPlan plan[2];
  const AttentionPlan& ForType(LayerType type) const {
    return plan[type == LayerType::kFull ? 1 : 0];
  }
};

// INVALID_ARGUMENT as Gemma4Model::Forward: empty chunks, positions past the context, token ids
// out of range, tables that miss a position a query reads or writes. `block_size` is the
// cache's. Media spans only widen the sliding masks here (their embeddings are separate).
absl::StatusOr<StepPlan> PlanStep(absl::Span<const ForwardChunk> chunks, const Gemma4Config& config,
                                  int block_size);

// One sequence's MTP draft: its last committed token sits at `position`, not yet in the cache.
struct DraftSequence {
  const BlockTables* blocks = nullptr;
  int position = 0;
};

// The drafter's attention (gemma4_drafter.h): row r reads the target's keys j < position_r
// (sliding layers: also j > position_r - W). positions[r] = position_r; no tokens, no stores.
// INVALID_ARGUMENT for position < 1 or tables that miss a key.
absl::StatusOr<StepPlan> PlanDraft(absl::Span<const DraftSequence> sequences,
                                   const Gemma4Config& target, int block_size);

}  // namespace gemma::cuda

#endif  // GEMMA_ENGINE_CUDA_STEP_PLAN_H_
