#include "engine/cuda/step_plan.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gemma::cuda {
namespace {

// The physical row of `position`, or -1 when the tables do not cover it (kv_cache.h).
int32_t PhysicalRow(const BlockTables& tables, LayerType type, int position, int block_size) {
  const int logical = position / block_size;
  int32_t block = -1;
  if (type == LayerType::kFull) {
    if (logical < static_cast<int>(tables.full.size())) block = tables.full[logical];
  } else {
    const int index = logical - tables.sliding_first_block;
    if (index >= 0 && index < static_cast<int>(tables.sliding.size()))
      block = tables.sliding[index];
  }
  return block < 0 ? -1 : block * block_size + position % block_size;
}

}  // namespace

absl::StatusOr<StepPlan> PlanStep(absl::Span<const ForwardChunk> chunks, const Gemma4Config& c,
                                  int block_size) {
  StepPlan step;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const ForwardChunk& chunk = chunks[ci];
    if (chunk.tokens.empty() || chunk.blocks == nullptr || chunk.start_position < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("chunk ", ci, ": needs tokens, block tables and a position >= 0"));
    }
    const int n = static_cast<int>(chunk.tokens.size());
    const int end = chunk.start_position + n;
    if (end > c.max_position) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", ci, ": position ", end - 1,
                                                     " exceeds the context of ", c.max_position));
    }
    for (int32_t token : chunk.tokens) {
      if (token < 0 || token >= c.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("chunk ", ci, ": token id ", token, " outside [0, ", c.vocab_size, ")"));
      }
    }
    const int first_row = step.rows;
    for (int i = 0; i < n; ++i) {
      step.tokens.push_back(chunk.tokens[i]);
      step.positions.push_back(chunk.start_position + i);
      if (chunk.all_logits || i == n - 1) step.logits_rows.push_back(first_row + i);
    }
    step.rows += n;
    for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
      AttentionPlan& plan = step.plan[type == LayerType::kFull ? 1 : 0];
      const int lo =
          type == LayerType::kFull ? 0 : std::max(0, chunk.start_position - c.sliding_window + 1);
      const int32_t base = static_cast<int32_t>(plan.key_slots.size()) - lo;
      for (int j = lo; j < end; ++j) {
        const int32_t row = PhysicalRow(*chunk.blocks, type, j, block_size);
        if (row < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("chunk ", ci, ": the ", type == LayerType::kFull ? "full" : "sliding",
                           "-attention block table does not cover position ", j));
        }
        plan.key_slots.push_back(row);
      }
      for (int i = 0; i < n; ++i) {
        const int p = chunk.start_position + i;
        int first = type == LayerType::kFull ? 0 : std::max(0, p - c.sliding_window + 1);
        int last = p;
        if (type == LayerType::kSliding && c.bidirectional_vision) {
          for (const MediaSpan& span : chunk.media) {
            if (span.kind == MediaKind::kImage && p >= span.position &&
                p < span.position + span.num_tokens) {
              first = std::min(first, span.position);
              last = span.position + span.num_tokens - 1;
            }
          }
        }
        if (first < lo || last >= end) {
          return absl::InvalidArgumentError(
              absl::StrCat("chunk ", ci, ": an image span leaves the chunk"));
        }
        plan.store_slot.push_back(plan.key_slots[base + p]);
        plan.first_key.push_back(first);
        plan.last_key.push_back(last);
        plan.key_base.push_back(base);
        plan.max_keys = std::max(plan.max_keys, last - first + 1);
      }
    }
  }
  return step;
}

absl::StatusOr<StepPlan> PlanDraft(absl::Span<const DraftSequence> sequences, const Gemma4Config& c,
                                   int block_size) {
  StepPlan step;
  for (size_t r = 0; r < sequences.size(); ++r) {
    const DraftSequence& seq = sequences[r];
    const int p = seq.position;
    if (seq.blocks == nullptr || p < 1 || p >= c.max_position) {
      return absl::InvalidArgumentError(
          absl::StrCat("draft ", r, ": needs block tables and a position in [1, context)"));
    }
    step.positions.push_back(p);
    for (LayerType type : {LayerType::kSliding, LayerType::kFull}) {
      AttentionPlan& plan = step.plan[type == LayerType::kFull ? 1 : 0];
      const int first = type == LayerType::kFull ? 0 : std::max(0, p - c.sliding_window + 1);
      const int32_t base = static_cast<int32_t>(plan.key_slots.size()) - first;
      for (int j = first; j < p; ++j) {
        const int32_t row = PhysicalRow(*seq.blocks, type, j, block_size);
        if (row < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("draft ", r, ": block tables do not cover position ", j));
        }
        plan.key_slots.push_back(row);
      }
      plan.first_key.push_back(first);
      plan.last_key.push_back(p - 1);
      plan.key_base.push_back(base);
      plan.max_keys = std::max(plan.max_keys, p - first);
    }
  }
  step.rows = static_cast<int>(sequences.size());
  return step;
}

}  // namespace gemma::cuda
