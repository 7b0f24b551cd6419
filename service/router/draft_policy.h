// How many tokens the MTP drafter proposes for a sequence in the next step (its draft length k),
// from the acceptance it has shown and the size of the decode batch.
//
// Model: each draft is accepted with probability a, independently (the geometric model of the
// speculative decoding papers), so a step with k drafts commits E(k) = (1 - a^(k+1)) / (1 - a)
// tokens. It costs cost(k) = 1 + k * draft_cost + k * B / saturation_tokens target-step units:
// the drafter's k passes, and the k extra verify positions, which are nearly free while a step of
// B decode sequences is memory-bound and cost in proportion once it is compute-bound. The policy
// picks the k in [0, cap] with the most tokens per unit of cost, and 0 unless that beats plain
// decoding by min_gain.
//
// a is estimated per sequence as accepted / (accepted + rejections) (each step that stops short
// of k ends on one rejection), smoothed toward the global rate with prior_weight pseudo-steps. A
// sequence held at k = 0 probes with k = 1 every probe_interval steps so its estimate can recover.
#ifndef GEMMA_SERVICE_ROUTER_DRAFT_POLICY_H_
#define GEMMA_SERVICE_ROUTER_DRAFT_POLICY_H_

#include <cstdint>
#include <vector>

namespace gemma {

// Acceptance record of one sequence, or of every sequence together.
struct AcceptanceStats {
  int64_t steps = 0;       // Speculative steps (k > 0).
  int64_t drafted = 0;     // Draft tokens proposed.
  int64_t accepted = 0;    // Of them, accepted.
  int64_t rejections = 0;  // Steps that ended on a rejected draft.
  int since_draft = 0;     // Decode steps since the last one with k > 0.

  void Add(int num_drafted, int num_accepted);
  // The per-draft acceptance probability, smoothed toward `prior` with `weight` pseudo-trials.
  double Rate(double prior, double weight) const;
};

struct DraftPolicyOptions {
  int max_draft_tokens = 0;      // The server's cap; 0: no speculation (no drafter loaded).
  double draft_cost = 0.05;      // One drafter pass, in target decode steps (12B drafter: ~3 %).
  int saturation_tokens = 256;   // Decode positions per step at which a step turns compute-bound.
  double min_gain = 1.05;        // Tokens per unit cost that k > 0 must beat.
  double prior_rate = 0.6;       // Acceptance assumed before any evidence.
  double prior_weight = 4;       // Pseudo-trials behind the prior (global rate once known).
  int probe_interval = 16;       // Decode steps between k = 1 probes of a sequence held at 0.
};

class DraftPolicy {
 public:
  explicit DraftPolicy(DraftPolicyOptions options);

  // The draft length for a sequence with `stats`, at most `cap` (the request's limit, the room
  // left in its context, max_tokens and the step's budget), in a step of `decode_batch` decode
  // sequences. Counts a decode step in stats->since_draft.
  int Choose(AcceptanceStats* stats, int cap, int decode_batch) const;
  // Records a step's outcome for the sequence and globally.
  void Record(AcceptanceStats* stats, int num_drafted, int num_accepted);

  const AcceptanceStats& global() const { return global_; }
  // accepted_per_position()[i]: drafts at index i (0-based) that were accepted.
  const std::vector<int64_t>& accepted_per_position() const { return accepted_per_position_; }

  // Expected tokens per unit cost of k drafts at acceptance `rate` in a batch of `decode_batch`.
  double Gain(int k, double rate, int decode_batch) const;

 private:
  const DraftPolicyOptions options_;
  AcceptanceStats global_;
  std::vector<int64_t> accepted_per_position_;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_ROUTER_DRAFT_POLICY_H_
