#include "service/router/output_stream.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "preprocess/testing/shared_tokenizers.h"
#include "preprocess/utf8.h"

namespace gemma {
namespace {

const Tokenizer& Vocab() { return testing::Gemma4Tokenizer(); }

std::vector<int32_t> Ids(const std::string& text) { return Vocab().Encode(text, {}); }

// Feeds `ids` in chunks of `chunk` tokens; returns the concatenated text and the last delta.
std::pair<std::string, OutputStream::Delta> Feed(OutputStream& stream,
                                                const std::vector<int32_t>& ids, size_t chunk) {
  std::string text;
  OutputStream::Delta last;
  for (size_t i = 0; i < ids.size() && !stream.finished(); i += chunk) {
    last = stream.Push(absl::MakeConstSpan(ids).subspan(i, std::min(chunk, ids.size() - i)));
    EXPECT_TRUE(IsValidUtf8(last.text));
    text += last.text;
  }
  return {text, last};
}

TEST(OutputStreamTest, StopStringAcrossTokensIsNeverEmitted) {
  const std::string body = "The answer is 42. END of story";
  for (size_t chunk : {1, 2, 5}) {
    OutputStream stream(Vocab(), {{"END"}, {1, 106}, 0});
    auto [text, last] = Feed(stream, Ids(body), chunk);
    EXPECT_EQ(text, "The answer is 42. ") << chunk;
    EXPECT_EQ(last.finish, v1::FINISH_REASON_STOP_STRING);
    EXPECT_EQ(last.matched_stop, "END");
  }
}

TEST(OutputStreamTest, HeldBackPrefixIsReleasedWhenItStopsMatching) {
  OutputStream stream(Vocab(), {{"STOPNOW"}, {}, 0});
  std::string text;
  for (int32_t id : Ids("a STOP and more")) {
    OutputStream::Delta delta = stream.Push({id});
    text += delta.text;
    // Never emitted while it could still be the stop string.
    EXPECT_THAT(text, ::testing::Not(::testing::EndsWith("STOP")));
  }
  text += stream.Finish(v1::FINISH_REASON_LENGTH).text;
  EXPECT_EQ(text, "a STOP and more");
}

TEST(OutputStreamTest, StopTokenEndsWithoutText) {
  OutputStream stream(Vocab(), {{}, {1, 106}, 0});
  std::vector<int32_t> ids = Ids("Hello there");
  ids.push_back(106);
  ids.push_back(Ids(" ignored")[0]);
  auto [text, last] = Feed(stream, ids, 3);
  EXPECT_EQ(text, "Hello there");
  EXPECT_EQ(last.finish, v1::FINISH_REASON_STOP);
  EXPECT_EQ(last.matched_stop, "106");
  EXPECT_EQ(stream.generated(), Ids("Hello there").size() + 1);  // The stop token counts.
  EXPECT_THAT(last.token_ids, ::testing::Not(::testing::Contains(106)));
}

TEST(OutputStreamTest, MaxTokensAndByteFallbackCharacters) {
  // "€" as three byte tokens: no partial character is ever emitted.
  const int32_t e2 = Vocab().PieceToId("<0xE2>"), x82 = Vocab().PieceToId("<0x82>"),
                xac = Vocab().PieceToId("<0xAC>");
  OutputStream stream(Vocab(), {{}, {}, 4});
  EXPECT_EQ(stream.Push({e2}).text, "");
  EXPECT_EQ(stream.Push({x82}).text, "");
  EXPECT_EQ(stream.Push({xac}).text, "\xE2\x82\xAC");
  OutputStream::Delta last = stream.Push({Ids("x")[0], Ids("y")[0]});
  EXPECT_EQ(last.text, "x");
  EXPECT_EQ(last.finish, v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(stream.generated(), 4u);
}

TEST(OutputStreamTest, EarliestStopWinsAndAbortReleasesPending) {
  OutputStream stream(Vocab(), {{"world", "lo w"}, {}, 0});
  auto [text, last] = Feed(stream, Ids("hello world"), 1);
  EXPECT_EQ(text, "hel");
  EXPECT_EQ(last.matched_stop, "lo w");
  OutputStream aborted(Vocab(), {{"xyz"}, {}, 0});
  std::string out = aborted.Push(Ids("abc xy")).text;
  out += aborted.Finish(v1::FINISH_REASON_ABORT).text;
  EXPECT_EQ(out, "abc xy");
  EXPECT_TRUE(aborted.Finish(v1::FINISH_REASON_ERROR).text.empty());
}

// Randomised: whatever the chunking, the text is the decoded text cut before the first stop.
TEST(OutputStreamTest, ChunkingNeverChangesTheResult) {
  std::mt19937 rng(3);
  const std::string corpus =
      "Lorem ipsum dolor sit amet, stop consectetur adipiscing elit; sed do eiusmod tempor "
      "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud.";
  const std::vector<int32_t> ids = Ids(corpus);
  for (int trial = 0; trial < 40; ++trial) {
    const std::vector<std::string> stops = {std::string(1, "aeiou"[trial % 5]) + "r",
                                            trial % 3 ? "dolore" : "stop c"};
    std::string expected = corpus;
    size_t cut = std::string::npos;
    for (const std::string& s : stops) cut = std::min(cut, corpus.find(s));
    if (cut != std::string::npos) expected = corpus.substr(0, cut);
    OutputStream stream(Vocab(), {stops, {}, 0});
    auto [text, last] = Feed(stream, ids, 1 + rng() % 6);
    if (!stream.finished()) text += stream.Finish(v1::FINISH_REASON_LENGTH).text;
    EXPECT_EQ(text, expected) << trial;
  }
}

}  // namespace
}  // namespace gemma
