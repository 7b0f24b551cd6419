// Finds added tokens in text: at each position, the longest token that starts there. Scanning
// positions left to right and taking the first hit gives leftmost-longest matching, which is how
// Hugging Face tokenizers cut added tokens out of a text.
#ifndef GEMMA_PREPROCESS_ADDED_TOKEN_MATCHER_H_
#define GEMMA_PREPROCESS_ADDED_TOKEN_MATCHER_H_

#include <array>
#include <cstdint>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace gemma {

class AddedTokenMatcher {
 public:
  struct Match {
    int32_t id = -1;  // -1: no token starts here.
    size_t length = 0;
  };

  void Add(absl::string_view text, int32_t id);  // Empty texts are ignored.

  // Cheap pre-check: can any token start with this byte?
  bool MayStartWith(unsigned char byte) const { return first_bytes_[byte]; }
  Match LongestAt(absl::string_view text, size_t position) const;

 private:
  // Trie over bytes: node 0 is the root; edges keyed by (node << 8 | byte).
  absl::flat_hash_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> node_token_{-1};
  std::array<bool, 256> first_bytes_{};
};

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_ADDED_TOKEN_MATCHER_H_
