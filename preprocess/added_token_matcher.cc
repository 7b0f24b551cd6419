#include "preprocess/added_token_matcher.h"

namespace gemma {

void AddedTokenMatcher::Add(absl::string_view text, int32_t id) {
  if (text.empty()) return;
  first_bytes_[static_cast<unsigned char>(text[0])] = true;
  int32_t node = 0;
  for (unsigned char byte : text) {
    const uint64_t key = static_cast<uint64_t>(node) << 8 | byte;
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      const int32_t child = static_cast<int32_t>(node_token_.size());
      node_token_.push_back(-1);
      it = edges_.emplace(key, child).first;
    }
    node = it->second;
  }
  node_token_[node] = id;
}

AddedTokenMatcher::Match AddedTokenMatcher::LongestAt(absl::string_view text,
                                                      size_t position) const {
  Match best;
  int32_t node = 0;
  for (size_t i = position; i < text.size(); ++i) {
    auto it = edges_.find(static_cast<uint64_t>(node) << 8 | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (node_token_[node] >= 0) best = {node_token_[node], i + 1 - position};
  }
  return best;
}

}  // namespace gemma
