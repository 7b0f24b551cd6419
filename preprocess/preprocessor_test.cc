#include "preprocess/preprocessor.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "preprocess/testing/media_fixtures.h"
#include "preprocess/testing/shared_tokenizers.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;
using preprocess::v1::PreprocessResponse;

const Tokenizer& Gemma4() { return testing::Gemma4Tokenizer(); }

std::unique_ptr<Preprocessor> Make(PreprocessorOptions options = {}) {
  auto preprocessor = Preprocessor::Create(Gemma4(), options);
  EXPECT_TRUE(preprocessor.ok()) << preprocessor.status();
  return *std::move(preprocessor);
}

// A 100x50 image (factor sqrt(2520 * 256 / 5000) = 11.36 -> 1104x528: 23 x 11 = 253 patches) and 1 s of 8 kHz audio
// (-> 16000 samples: 25 frames).
v1::PromptInput MultimodalChat() {
  v1::PromptInput prompt;
  v1::ChatMessage* user = prompt.mutable_chat()->add_messages();
  user->set_role(v1::ROLE_USER);
  user->add_parts()->set_text("Look:");
  user->add_parts()->mutable_image()->set_data(
      testing::Png(100, 50, std::vector<uint8_t>(100 * 50 * 3, 128)));
  user->add_parts()->mutable_audio()->set_data(
      testing::Wav(8000, 1, 1, testing::Pcm16(std::vector<int16_t>(8000, 1000))));
  return prompt;
}

TEST(PreprocessorTest, ExpandsMediaPlaceholders) {
  PreprocessResponse response;
  ASSERT_TRUE(Make()->Preprocess(MultimodalChat(), &response).ok());
  ASSERT_EQ(response.media_size(), 2);
  const auto& ids = response.token_ids();
  const auto& image = response.media(0);
  EXPECT_EQ(image.kind(), preprocess::v1::MEDIA_KIND_IMAGE);
  EXPECT_EQ(image.grid_width(), 23u);
  EXPECT_EQ(image.grid_height(), 11u);
  EXPECT_EQ(image.num_tokens(), 253u);
  EXPECT_EQ(image.source_width(), 100u);
  EXPECT_EQ(ids[image.token_offset() - 1], kImageBeginId);
  for (uint32_t i = 0; i < image.num_tokens(); ++i) {
    ASSERT_EQ(ids[image.token_offset() + i], kImageSoftId);
  }
  EXPECT_EQ(ids[image.token_offset() + image.num_tokens()], kImageEndId);
  EXPECT_EQ(image.features().data().size(), 253u * kPatchValues);
  EXPECT_THAT(image.features().shape(), ::testing::ElementsAre(253, 6912));

  const auto& audio = response.media(1);
  EXPECT_EQ(audio.kind(), preprocess::v1::MEDIA_KIND_AUDIO);
  EXPECT_EQ(audio.num_tokens(), 25u);
  EXPECT_EQ(audio.audio_samples(), 16000u);
  EXPECT_EQ(ids[audio.token_offset() - 1], kAudioBeginId);
  EXPECT_EQ(ids[audio.token_offset() + 25], kAudioEndId);
  EXPECT_EQ(audio.features().dtype(), preprocess::v1::TENSOR_DTYPE_FLOAT32);
  EXPECT_EQ(audio.features().data().size(), 25u * 640 * sizeof(float));
  EXPECT_GT(audio.token_offset(), image.token_offset());

  EXPECT_EQ(response.counts().total_tokens(), static_cast<uint32_t>(ids.size()));
  EXPECT_EQ(response.counts().image_tokens(), 253u);
  EXPECT_EQ(response.counts().audio_tokens(), 25u);
  v1::CountTokensResponse counts;
  ASSERT_TRUE(Make()->CountTokens(MultimodalChat(), &counts).ok());
  EXPECT_EQ(counts.SerializeAsString(), response.counts().SerializeAsString());
}

TEST(PreprocessorTest, RawAndTokenIdPrompts) {
  auto preprocessor = Make();
  v1::PromptInput raw;
  raw.mutable_raw()->set_text("<|turn>user\nhi<turn|>");
  raw.mutable_raw()->set_parse_special_tokens(true);
  raw.mutable_raw()->set_add_bos(true);
  PreprocessResponse response;
  ASSERT_TRUE(preprocessor->Preprocess(raw, &response).ok());
  EXPECT_EQ(response.token_ids(0), 2);
  EXPECT_EQ(response.token_ids(1), 105);

  raw.mutable_raw()->set_text("<|image|>");
  EXPECT_THAT(std::string(preprocessor->Preprocess(raw, &response).message()),
              HasSubstr("prompt.raw.text tokens[1]: 258880 is a media soft token"));
  v1::PromptInput ids;
  ids.mutable_token_ids()->add_ids(2);
  ids.mutable_token_ids()->add_ids(300000);
  absl::Status status = preprocessor->Preprocess(ids, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("prompt.token_ids.ids[1]: 300000"));
  EXPECT_THAT(std::string(preprocessor->Preprocess(v1::PromptInput(), &response).message()),
              HasSubstr("one of chat, raw or token_ids"));
}

TEST(PreprocessorTest, MediaErrorsNameThePart) {
  v1::PromptInput prompt = MultimodalChat();
  prompt.mutable_chat()->mutable_messages(0)->mutable_parts(1)->mutable_image()->set_data("junk");
  PreprocessResponse response;
  absl::Status status = Make()->Preprocess(prompt, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("prompt.chat.messages[0].parts[1].image: not a PNG"));

  prompt = MultimodalChat();
  prompt.mutable_chat()->mutable_messages(0)->mutable_parts(2)->mutable_audio()->set_mime_type(
      "audio/ogg");
  EXPECT_THAT(std::string(Make()->Preprocess(prompt, &response).message()),
              HasSubstr("prompt.chat.messages[0].parts[2].audio: mime_type"));

  prompt = MultimodalChat();
  prompt.mutable_chat()->mutable_messages(0)->mutable_parts(1)->mutable_image()->set_max_soft_tokens(
      2000);
  EXPECT_THAT(std::string(Make()->Preprocess(prompt, &response).message()),
              HasSubstr("parts[1].image.max_soft_tokens: 2000"));
}

TEST(PreprocessorTest, PerRequestLimits) {
  PreprocessorOptions options;
  options.max_images_per_request = 0;
  PreprocessResponse response;
  absl::Status status = Make(options)->Preprocess(MultimodalChat(), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 images exceed the limit of 0"));
  options = {};
  options.audio.max_seconds = 0.5;
  status = Make(options)->Preprocess(MultimodalChat(), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("parts[2].audio"));
}

TEST(PreprocessorTest, TokenizeAndDetokenize) {
  auto preprocessor = Make();
  v1::TokenizeRequest request;
  request.set_text("Hello world");
  request.set_return_pieces(true);
  v1::TokenizeResponse tokens;
  ASSERT_TRUE(preprocessor->Tokenize(request, &tokens).ok());
  ASSERT_EQ(tokens.pieces_size(), tokens.token_ids_size());
  EXPECT_EQ(tokens.pieces(1), "\xE2\x96\x81world");
  preprocess::v1::DetokenizeRequest detokenize;
  *detokenize.mutable_token_ids() = tokens.token_ids();
  preprocess::v1::DetokenizeResponse text;
  ASSERT_TRUE(preprocessor->Detokenize(detokenize, &text).ok());
  EXPECT_EQ(text.text(), "Hello world");
  detokenize.add_token_ids(-1);
  EXPECT_THAT(std::string(preprocessor->Detokenize(detokenize, &text).message()),
              HasSubstr("token_ids[2]: -1"));
}

}  // namespace
}  // namespace gemma
