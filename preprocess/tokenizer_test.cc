#include "preprocess/tokenizer.h"

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "preprocess/stream_detokenizer.h"
#include "preprocess/testing/reference_paths.h"
#include "preprocess/testing/shared_tokenizers.h"
#include "preprocess/utf8.h"

namespace gemma {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

const Tokenizer& Gemma4() { return testing::Gemma4Tokenizer(); }
const Tokenizer& Gemma3() { return testing::Gemma3Tokenizer(); }

// llama.cpp's tokenizer test vectors for the Gemma 4 vocabulary, generated with the HF tokenizer:
// inputs separated by "\n__ggml_vocab_test__\n", one line of ids (no <bos>) per input.
TEST(TokenizerTest, Gemma4MatchesHuggingFaceVectors) {
  const std::string inputs = ReadAll(testing::Gemma4VocabGguf() + ".inp");
  const std::string outputs = ReadAll(testing::Gemma4VocabGguf() + ".out");
  ASSERT_FALSE(inputs.empty());
  std::vector<std::string> cases = absl::StrSplit(inputs, "\n__ggml_vocab_test__\n");
  std::vector<std::string> expected = absl::StrSplit(outputs, '\n');
  ASSERT_GE(expected.size(), cases.size());
  int checked = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (i + 1 == cases.size() && cases[i].empty()) break;
    std::string text = cases[i];
    if (i + 1 == cases.size() && !text.empty() && text.back() == '\n') text.pop_back();
    std::vector<int32_t> want;
    for (absl::string_view id : absl::StrSplit(expected[i], ' ', absl::SkipEmpty())) {
      want.push_back(std::stoi(std::string(id)));
    }
    EXPECT_EQ(Gemma4().Encode(text, {.parse_special = true}), want) << "case " << i << ": [" << text << "]";
    EXPECT_EQ(Gemma4().Decode(want), text) << "case " << i;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(TokenizerTest, Gemma4SpecialIds) {
  const Tokenizer& t = Gemma4();
  EXPECT_EQ(t.vocab_size(), 262144);
  EXPECT_EQ(t.vocab().bos_id, 2);
  EXPECT_EQ(t.vocab().eos_id, 1);
  EXPECT_EQ(t.PieceToId("<|turn>"), 105);
  EXPECT_EQ(t.PieceToId("<turn|>"), 106);
  EXPECT_EQ(t.PieceToId("<|image|>"), 258880);
  EXPECT_EQ(t.PieceToId("<|channel>"), 100);
  EXPECT_TRUE(t.IsControl(105));
  EXPECT_TRUE(t.IsControl(100));  // USER_DEFINED in the GGUF, special in the HF tokenizer.
  EXPECT_TRUE(t.IsControl(52));   // <|"|>
  EXPECT_FALSE(t.IsControl(107)); // "\n"
}

TEST(TokenizerTest, SpecialStringsAreTextUnlessParsingIsOn) {
  const Tokenizer& t = Gemma4();
  const std::string text = "<|turn>user\nhi<turn|>";
  std::vector<int32_t> parsed = t.Encode(text, {.parse_special = true});
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), 105);
  EXPECT_EQ(parsed.back(), 106);
  std::vector<int32_t> plain = t.Encode(text, {.parse_special = false});
  for (int32_t id : plain) EXPECT_FALSE(t.IsControl(id)) << id;
  EXPECT_EQ(t.Decode(plain), text);
  EXPECT_GT(plain.size(), parsed.size());
}

TEST(TokenizerTest, AddBosAndSkipSpecial) {
  const Tokenizer& t = Gemma4();
  std::vector<int32_t> ids = t.Encode("Hello", {.add_bos = true});
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(t.Decode(ids), "<bos>Hello");
  EXPECT_EQ(t.Decode(ids, /*skip_special=*/true), "Hello");
  EXPECT_THAT(t.Encode("", {}), ElementsAre());
  EXPECT_THAT(t.Encode("", {.add_bos = true}), ElementsAre(2));
}

// Text that exercises every path: spaces, newline runs, tabs, CJK, emoji ZWJ sequences, RTL,
// combining marks, control characters, rare characters that fall back to bytes, long words.
// A literal U+2581 is left out: like the HF tokenizer, decoding turns it into a space.
std::vector<std::string> HardCases() {
  return {
      "Hello world",
      "  leading and trailing  ",
      "a\n\nb\n\n\n\nc\t\td\r\ne",
      "\n",
      "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
      "日本語のテキストと中文文本",
      "family: \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 done",
      "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9",
      "e\xCC\x81 a\xCC\x8A\xCC\x81 Z\xCD\x91\xCD\x97\xCD\x82",
      std::string("ctl\x00\x01\x02\x7f end", 11),
      "\xF0\x9F\xA6\x80\xF0\x90\x8D\x88\xF3\xA0\x80\x81",  // Rare: byte fallback.
      std::string(3000, 'x') + " " + std::string(700, '!'),
      "<b>bold</b> <code>x</code> > </ mark",
  };
}

TEST(TokenizerTest, DecodeInvertsEncode) {
  for (const Tokenizer* t : {&Gemma4(), &Gemma3()}) {
    for (const std::string& text : HardCases()) {
      std::vector<int32_t> ids = t->Encode(text, {});
      EXPECT_EQ(t->Decode(ids), text) << t->vocab().source << ": [" << text << "]";
    }
  }
}

TEST(TokenizerTest, InvalidUtf8RoundTripsThroughByteTokens) {
  const Tokenizer& t = Gemma4();
  const std::string bad = std::string("ok \xC3\x28 \xFF\xFE \xE2\x82 end", 15);
  std::vector<int32_t> ids = t.Encode(bad, {});
  std::string bytes;
  for (int32_t id : ids) t.AppendTokenBytes(id, false, &bytes);
  EXPECT_EQ(bytes, bad);
  const std::string text = t.Decode(ids);
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_THAT(text, HasSubstr("\xEF\xBF\xBD"));
  // An ill-formed lead byte must not swallow the well-formed character after it (found by
  // tokenizer_encode_fuzzer): "\xF0" then "▁" decodes to U+FFFD and a space.
  bytes.clear();
  for (int32_t id : t.Encode("\xF0\xE2\x96\x81x", {})) t.AppendTokenBytes(id, false, &bytes);
  EXPECT_EQ(bytes, "\xF0 x");
}

// Splitting lines into words must not change a single id: compare with one BPE over the line by
// gluing words with the one piece that can span a boundary (">▁</").
TEST(TokenizerTest, WordSplittingKeepsBoundarySpanningPieces) {
  const Tokenizer& t = Gemma4();
  const int32_t spanning = t.PieceToId(">\xE2\x96\x81</");
  ASSERT_GE(spanning, 0);
  std::vector<int32_t> ids = t.Encode("<b>x</b> </i>", {});
  EXPECT_THAT(ids, ::testing::Contains(spanning));
  EXPECT_EQ(t.Decode(ids), "<b>x</b> </i>");
}

TEST(TokenizerTest, RepeatedEncodesAgree) {
  // The word cache must not change results: encode twice, and once with a cold cache.
  const std::string text = "The quick brown fox jumps over the lazy dog. The quick brown fox!";
  auto cold = Tokenizer::Load(testing::Gemma4VocabGguf());
  ASSERT_TRUE(cold.ok());
  std::vector<int32_t> first = Gemma4().Encode(text, {});
  EXPECT_EQ(Gemma4().Encode(text, {}), first);
  EXPECT_EQ((*cold)->Encode(text, {}), first);
}

TEST(TokenizerTest, Gemma3AddedTokensAreAtomic) {
  const Tokenizer& t = Gemma3();
  EXPECT_EQ(t.vocab_size(), 262145);  // <image_soft_token> is an added token past model.vocab.
  EXPECT_EQ(t.PieceToId("<start_of_turn>"), 105);
  // Non-special added tokens (HTML tags in Gemma 3) match even without special parsing.
  const int32_t bold = t.PieceToId("<b>");
  ASSERT_GE(bold, 0);
  EXPECT_FALSE(t.IsControl(bold));
  EXPECT_THAT(t.Encode("<b>", {}), ElementsAre(bold));
  EXPECT_THAT(t.Encode("<start_of_turn>", {.parse_special = true}), ElementsAre(105));
  EXPECT_THAT(t.Encode("<start_of_turn>", {}), ::testing::Not(ElementsAre(105)));
}

TEST(StreamDetokenizerTest, ConcatenationEqualsDecode) {
  const Tokenizer& t = Gemma4();
  std::vector<std::string> cases = HardCases();
  cases.push_back(std::string("broken \xE2\x82 tail \xF0\x9F", 17));
  for (const std::string& text : cases) {
    std::vector<int32_t> ids = t.Encode(text, {});
    for (bool skip : {false, true}) {
      StreamDetokenizer stream(t, skip);
      std::string streamed;
      for (int32_t id : ids) {
        std::string delta = stream.Push(id);
        EXPECT_TRUE(IsValidUtf8(delta));
        streamed += delta;
      }
      streamed += stream.Flush();
      EXPECT_EQ(streamed, t.Decode(ids, skip)) << "[" << text << "]";
    }
  }
}

TEST(StreamDetokenizerTest, HoldsIncompleteCharacters) {
  const Tokenizer& t = Gemma4();
  // "€" (E2 82 AC) as three byte-fallback tokens.
  const int32_t e2 = t.PieceToId("<0xE2>"), x82 = t.PieceToId("<0x82>"), xac = t.PieceToId("<0xAC>");
  ASSERT_GE(e2, 0);
  StreamDetokenizer stream(t, false);
  EXPECT_EQ(stream.Push(e2), "");
  EXPECT_EQ(stream.Push(x82), "");
  EXPECT_EQ(stream.pending_bytes(), 2u);
  EXPECT_EQ(stream.Push(xac), "\xE2\x82\xAC");
  // An ill-formed continuation is replaced as soon as it is known.
  EXPECT_EQ(stream.Push(e2), "");
  EXPECT_EQ(stream.Push(t.PieceToId("A")), "\xEF\xBF\xBD" "A");
  EXPECT_EQ(stream.Flush(), "");
}

TEST(Utf8Test, MaximalSubpartReplacement) {
  auto clean = [](absl::string_view bytes) {
    std::string out;
    AppendUtf8(bytes, true, &out);
    return out;
  };
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(clean("abc"), "abc");
  EXPECT_EQ(clean("\xC0\xAF"), r + r);             // Overlong lead bytes are never valid.
  EXPECT_EQ(clean("\xE0\x80\x80"), r + r + r);     // E0 needs A0..BF next.
  EXPECT_EQ(clean("\xE2\x82" "A"), r + "A");       // Truncated sequence: one replacement.
  EXPECT_EQ(clean("\xED\xA0\x80"), r + r + r);     // Surrogates.
  EXPECT_EQ(clean("\xF4\x90\x80\x80"), r + r + r + r);  // Above U+10FFFF.
  EXPECT_EQ(clean("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  std::string out;
  EXPECT_EQ(AppendUtf8("a\xF0\x9F", false, &out), 1u);  // Incomplete tail left for later.
  EXPECT_EQ(out, "a");
}

TEST(VocabTest, MalformedTokenizerJsonIsRejectedWithReasons) {
  EXPECT_THAT(std::string(ParseTokenizerJson("{", "t.json").status().message()),
              HasSubstr("not valid JSON"));
  EXPECT_EQ(ParseTokenizerJson(R"({"model":{"type":"WordPiece"}})", "t.json").status().code(),
            absl::StatusCode::kUnimplemented);
  const std::string bad_merge = R"({"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"\u2581"},
    "model":{"type":"BPE","byte_fallback":true,"vocab":{"<bos>":0,"a":1},"merges":[["a","b"]]}})";
  absl::StatusOr<Vocab> vocab = ParseTokenizerJson(bad_merge, "t.json");
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Create(*vocab);
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("merge 0"));
  EXPECT_EQ(LoadVocab("/nonexistent/tokenizer.json").status().code(), absl::StatusCode::kNotFound);
  // Found by tokenizer_json_fuzzer: a float id too large for int64 was converted unchecked.
  const std::string float_id = R"({"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"\u2581"},
    "model":{"type":"BPE","byte_fallback":true,"vocab":{"<bos>":0,"a":1.7e23},"merges":[]}})";
  EXPECT_THAT(std::string(ParseTokenizerJson(float_id, "t.json").status().message()),
              HasSubstr("model.vocab[\"a\"] is not an integer id"));
  EXPECT_EQ(ByteFallbackValue("<0x0A>"), 10);
  EXPECT_EQ(ByteFallbackValue("<0xZZ>"), -1);
}

}  // namespace
}  // namespace gemma
