#include "preprocess/tokenizer.h"

#include <cstring>
#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "preprocess/utf8.h"

namespace gemma {
namespace {

constexpr absl::string_view kSpaceMark = "\xE2\x96\x81";  // "▁"
constexpr size_t kMarkLength = 3;
// Words up to this many bytes are memoized; the cache is dropped when a shard fills.
constexpr size_t kMaxCachedWordBytes = 64;
constexpr size_t kCacheShards = 16;
constexpr size_t kMaxEntriesPerShard = 1 << 14;
// Above this many boundary-spanning pieces the split check would cost more than it saves.
constexpr size_t kMaxSpanningPieces = 64;

bool MarkAt(absl::string_view text, size_t position) {
  return position + kMarkLength <= text.size() &&
         std::memcmp(text.data() + position, kSpaceMark.data(), kMarkLength) == 0;
}

uint64_t PairKey(int32_t left, int32_t right) {
  return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
}

}  // namespace

struct Tokenizer::WordCache {
  struct Shard {
    absl::Mutex mutex;
    absl::flat_hash_map<std::string, std::vector<int32_t>> words ABSL_GUARDED_BY(mutex);
  };
  Shard shards[kCacheShards];

  Shard& ShardFor(absl::string_view word) {
    return shards[absl::Hash<absl::string_view>()(word) % kCacheShards];
  }
};

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)), cache_(new WordCache) {}
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  absl::StatusOr<Vocab> vocab = LoadVocab(path);
  if (!vocab.ok()) return vocab.status();
  return Create(*std::move(vocab));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(Vocab vocab_in) {
  if (vocab_in.pieces.size() != vocab_in.types.size() || vocab_in.pieces.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(vocab_in.source, ": pieces and token types differ in length or are empty"));
  }
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(vocab_in)));
  const Vocab& vocab = tokenizer->vocab_;
  tokenizer->piece_ids_.reserve(vocab.pieces.size());
  tokenizer->byte_ids_.fill(-1);
  tokenizer->byte_values_.assign(vocab.pieces.size(), -1);
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string& piece = vocab.pieces[id];
    tokenizer->piece_ids_.emplace(piece, id);  // The first id wins for a repeated piece.
    switch (vocab.types[id]) {
      case TokenType::kByte: {
        // A BYTE-typed piece that is not "<0xHH>" decodes as its text.
        const int value = ByteFallbackValue(piece);
        if (value < 0) break;
        tokenizer->byte_values_[id] = static_cast<int16_t>(value);
        if (tokenizer->byte_ids_[value] < 0) tokenizer->byte_ids_[value] = id;
        break;
      }
      case TokenType::kControl:
        tokenizer->all_added_.Add(piece, id);
        break;
      case TokenType::kUserDefined:
        tokenizer->all_added_.Add(piece, id);
        tokenizer->nonspecial_added_.Add(piece, id);
        break;
      default:
        break;
    }
  }
  tokenizer->merges_.reserve(vocab.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const auto& [left, right] = vocab.merges[rank];
    joined = left;
    joined += right;
    const int32_t left_id = tokenizer->PieceToId(left);
    const int32_t right_id = tokenizer->PieceToId(right);
    const int32_t merged_id = tokenizer->PieceToId(joined);
    if (left_id < 0 || right_id < 0 || merged_id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(vocab.source, ": merge ", rank, " (\"", left,
                                                     "\" + \"", right, "\") names a missing piece"));
    }
    tokenizer->merges_.emplace(PairKey(left_id, right_id),
                               static_cast<uint64_t>(rank) << 32 | static_cast<uint32_t>(merged_id));
    // A merge result with "▁" right after another character could span a word boundary.
    for (size_t at = 1; at + kMarkLength <= joined.size(); ++at) {
      if (MarkAt(joined, at) && !(at >= kMarkLength && MarkAt(joined, at - kMarkLength))) {
        tokenizer->boundary_spanning_pieces_.emplace_back(joined, at);
      }
    }
  }
  if (tokenizer->boundary_spanning_pieces_.size() > kMaxSpanningPieces) {
    tokenizer->split_words_ = false;
    tokenizer->boundary_spanning_pieces_.clear();
  }
  return tokenizer;
}

int32_t Tokenizer::PieceToId(absl::string_view piece) const {
  auto it = piece_ids_.find(piece);
  return it == piece_ids_.end() ? -1 : it->second;
}

bool Tokenizer::IsControl(int32_t id) const {
  return id >= 0 && id < vocab_.size() && vocab_.types[id] == TokenType::kControl;
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  EncodeAppend(text, options, &ids);
  return ids;
}

void Tokenizer::EncodeAppend(absl::string_view text, const EncodeOptions& options,
                             std::vector<int32_t>* ids) const {
  if (options.add_bos && vocab_.bos_id >= 0) ids->push_back(vocab_.bos_id);
  const std::pair<size_t, size_t> everywhere{0, text.size()};
  EncodeMarkedAppend(text,
                     options.parse_special ? absl::MakeConstSpan(&everywhere, 1)
                                           : absl::Span<const std::pair<size_t, size_t>>(),
                     ids);
}

void Tokenizer::EncodeMarkedAppend(absl::string_view text,
                                   absl::Span<const std::pair<size_t, size_t>> markup,
                                   std::vector<int32_t>* ids) const {
  size_t segment_start = 0;
  size_t range = 0;  // The first markup range that ends after position i.
  for (size_t i = 0; i < text.size();) {
    while (range < markup.size() && markup[range].second <= i) ++range;
    const bool in_markup = range < markup.size() && markup[range].first <= i;
    const AddedTokenMatcher& matcher = in_markup ? all_added_ : nonspecial_added_;
    if (matcher.MayStartWith(static_cast<unsigned char>(text[i]))) {
      const AddedTokenMatcher::Match match =
          matcher.LongestAt(in_markup ? text.substr(0, markup[range].second) : text, i);
      if (match.id >= 0) {
        EncodeSegment(text.substr(segment_start, i - segment_start), ids);
        ids->push_back(match.id);
        i += match.length;
        segment_start = i;
        continue;
      }
    }
    ++i;
  }
  EncodeSegment(text.substr(segment_start), ids);
}

void Tokenizer::EncodeSegment(absl::string_view raw, std::vector<int32_t>* ids) const {
  if (raw.empty()) return;
  std::string normalized;
  normalized.reserve(raw.size() + raw.size() / 4);
  for (char c : raw) {
    if (c == ' ') {
      normalized.append(kSpaceMark.data(), kMarkLength);
    } else {
      normalized.push_back(c);
    }
  }
  if (!vocab_.split_newlines) {
    EncodeLine(normalized, ids);
    return;
  }
  const absl::string_view text = normalized;
  size_t start = 0;
  while (start < text.size()) {
    const bool newlines = text[start] == '\n';
    size_t end = start;
    while (end < text.size() && (text[end] == '\n') == newlines) ++end;
    const absl::string_view run = text.substr(start, end - start);
    const int32_t whole = newlines ? PieceToId(run) : -1;
    if (whole >= 0) {
      ids->push_back(whole);
    } else {
      EncodeLine(run, ids);
    }
    start = end;
  }
}

bool Tokenizer::CanSplitBefore(absl::string_view text, size_t position) const {
  for (const auto& [piece, offset] : boundary_spanning_pieces_) {
    if (position >= offset && text.size() - (position - offset) >= piece.size() &&
        text.compare(position - offset, piece.size(), piece) == 0) {
      return false;
    }
  }
  return true;
}

void Tokenizer::EncodeLine(absl::string_view text, std::vector<int32_t>* ids) const {
  if (!split_words_) {
    MergeWord(text, ids);
    return;
  }
  // Words start at a "▁" that follows another character.
  size_t word_start = 0;
  size_t search = 1;
  while (search < text.size()) {
    const void* found = std::memchr(text.data() + search, kSpaceMark[0], text.size() - search);
    if (found == nullptr) break;
    const size_t at = static_cast<const char*>(found) - text.data();
    if (MarkAt(text, at)) {
      if (at > word_start && !(at >= kMarkLength && MarkAt(text, at - kMarkLength)) &&
          CanSplitBefore(text, at)) {
        EncodeWord(text.substr(word_start, at - word_start), ids);
        word_start = at;
      }
      search = at + kMarkLength;
    } else {
      search = at + 1;
    }
  }
  EncodeWord(text.substr(word_start), ids);
}

void Tokenizer::EncodeWord(absl::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) {
    MergeWord(word, ids);
    return;
  }
  WordCache::Shard& shard = cache_->ShardFor(word);
  {
    absl::MutexLock lock(&shard.mutex);
    auto it = shard.words.find(word);
    if (it != shard.words.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids->size();
  MergeWord(word, ids);
  absl::MutexLock lock(&shard.mutex);
  if (shard.words.size() >= kMaxEntriesPerShard) shard.words.clear();
  shard.words.emplace(std::string(word), std::vector<int32_t>(ids->begin() + first, ids->end()));
}

void Tokenizer::MergeWord(absl::string_view word, std::vector<int32_t>* ids) const {
  // Symbols form a doubly linked list; a merged-away symbol has id -1.
  struct Symbol {
    int32_t id, prev, next;
  };
  // A candidate merge of symbols[left] with its right neighbour, valid while both ids are
  // unchanged. Ordered by rank, then by position (leftmost first).
  struct Candidate {
    uint32_t rank;
    int32_t left, left_id, right_id, merged_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> queue;  // A min-heap.
  symbols.clear();
  for (size_t i = 0; i < word.size();) {
    const size_t length = WellFormedLength(word, i);
    const int32_t id = PieceToId(word.substr(i, length));
    if (id >= 0) {
      symbols.push_back({id, 0, 0});
    } else {
      for (size_t b = i; b < i + length; ++b) {
        const int32_t byte_id = byte_ids_[static_cast<unsigned char>(word[b])];
        symbols.push_back({byte_id >= 0 ? byte_id : vocab_.unk_id, 0, 0});
      }
    }
    i += length;
  }
  const int32_t count = static_cast<int32_t>(symbols.size());
  for (int32_t i = 0; i < count; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < count ? i + 1 : -1;
  }
  queue.clear();
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
    if (it == merges_.end()) return;
    queue.push_back({static_cast<uint32_t>(it->second >> 32), left, symbols[left].id,
                     symbols[right].id, static_cast<int32_t>(it->second & 0xFFFFFFFFu)});
    std::push_heap(queue.begin(), queue.end(), std::greater<Candidate>());
  };
  for (int32_t i = 0; i + 1 < count; ++i) consider(i);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), std::greater<Candidate>());
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.left];
    if (left.id != top.left_id || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.id != top.right_id) continue;
    left.id = top.merged_id;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    consider(left.prev);
    consider(top.left);
  }
  for (int32_t i = 0; i >= 0 && i < count; i = symbols[i].next) ids->push_back(symbols[i].id);
}

void Tokenizer::AppendTokenBytes(int32_t id, bool skip_special, std::string* out) const {
  if (id < 0 || id >= vocab_.size()) return;
  const std::string& piece = vocab_.pieces[id];
  if (byte_values_[id] >= 0) {
    out->push_back(static_cast<char>(byte_values_[id]));
    return;
  }
  switch (vocab_.types[id]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      if (!skip_special) out->append(piece);
      return;
    default:
      break;
  }
  for (size_t i = 0; i < piece.size();) {
    if (MarkAt(piece, i)) {
      out->push_back(' ');
      i += kMarkLength;
    } else {
      out->push_back(piece[i++]);
    }
  }
}

std::string Tokenizer::Decode(absl::Span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) AppendTokenBytes(id, skip_special, &bytes);
  std::string text;
  text.reserve(bytes.size());
  AppendUtf8(bytes, /*final=*/true, &text);
  return text;
}

}  // namespace gemma
