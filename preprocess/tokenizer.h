// Gemma's BPE tokenizer (see vocab.h for the pipeline it implements).
//
// Encoding: added tokens are cut out of the raw text first (leftmost, longest); the text between
// them is normalized, split where the vocabulary allows, and each piece is merged by rank with
// ties going to the leftmost pair - the order Hugging Face tokenizers and llama.cpp use.
//
// Splitting for speed: BPE over a whole line gives the same result as BPE over its words when no
// piece can span a word boundary (a "▁" that follows another character). The pieces that could
// span one are found when the vocabulary loads (Gemma has one, ">▁</"); a boundary where one of
// them occurs in the text is not split. Words are memoized, so repeated words cost a lookup.
//
// Thread-safe: every method is const; the word cache is internally locked.
#ifndef GEMMA_PREPROCESS_TOKENIZER_H_
#define GEMMA_PREPROCESS_TOKENIZER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "preprocess/added_token_matcher.h"
#include "preprocess/vocab.h"

namespace gemma {

struct EncodeOptions {
  // Match special tokens ("<|turn>", "<|image|>", ...) in the text. Off for anything a user
  // wrote: then those strings are ordinary text. Non-special added tokens always match.
  bool parse_special = false;
  bool add_bos = false;  // Prepend <bos>.
};

class Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);
  // LoadVocab(path) then Create.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path);

  ~Tokenizer();

  std::vector<int32_t> Encode(absl::string_view text, const EncodeOptions& options) const;
  void EncodeAppend(absl::string_view text, const EncodeOptions& options,
                    std::vector<int32_t>* ids) const;
  // Special tokens are matched only wholly inside one of `markup`'s byte ranges (sorted,
  // disjoint); everything else is as EncodeAppend without special parsing. No <bos> is added.
  void EncodeMarkedAppend(absl::string_view text,
                          absl::Span<const std::pair<size_t, size_t>> markup,
                          std::vector<int32_t>* ids) const;

  // Text of `ids`; byte-fallback runs that are not valid UTF-8 become U+FFFD (one per maximal
  // invalid subsequence). Ids out of range are skipped. With skip_special, control tokens
  // (<bos>, <|turn>, ...) produce nothing.
  std::string Decode(absl::Span<const int32_t> ids, bool skip_special = false) const;
  // The raw bytes one token decodes to (possibly part of a UTF-8 character).
  void AppendTokenBytes(int32_t id, bool skip_special, std::string* out) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t vocab_size() const { return vocab_.size(); }
  bool IsControl(int32_t id) const;
  // The id of an exact piece (any type), or -1.
  int32_t PieceToId(absl::string_view piece) const;

 private:
  struct WordCache;
  explicit Tokenizer(Vocab vocab);

  void EncodeSegment(absl::string_view raw, std::vector<int32_t>* ids) const;
  void EncodeLine(absl::string_view normalized, std::vector<int32_t>* ids) const;
  void EncodeWord(absl::string_view word, std::vector<int32_t>* ids) const;
  void MergeWord(absl::string_view word, std::vector<int32_t>* ids) const;
  bool CanSplitBefore(absl::string_view text, size_t position) const;

  Vocab vocab_;
  absl::flat_hash_map<absl::string_view, int32_t> piece_ids_;  // Views into vocab_.pieces.
  // (left id << 32 | right id) -> (rank << 32 | merged id).
  absl::flat_hash_map<uint64_t, uint64_t> merges_;
  std::array<int32_t, 256> byte_ids_;
  std::vector<int16_t> byte_values_;  // Per id: the byte of a valid byte piece, else -1.
  AddedTokenMatcher all_added_;      // Control and user-defined tokens.
  AddedTokenMatcher nonspecial_added_;
  // Pieces that hold a "▁" right after another character, with that byte offset.
  std::vector<std::pair<std::string, size_t>> boundary_spanning_pieces_;
  bool split_words_ = true;
  std::unique_ptr<WordCache> cache_;
};

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_TOKENIZER_H_
