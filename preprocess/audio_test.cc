#include "preprocess/audio.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "preprocess/testing/media_fixtures.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

using testing::Pcm16;
using testing::Wav;

TEST(AudioTest, DecodesAndAveragesChannels) {
  // Stereo frames (16384, -16384) and (8192, 8192): means 0 and 0.25.
  absl::StatusOr<Waveform> wave =
      DecodeAudio(Wav(16000, 2, 1, Pcm16({16384, -16384, 8192, 8192})), "audio/wav", AudioLimits());
  ASSERT_TRUE(wave.ok()) << wave.status();
  EXPECT_EQ(wave->sample_rate, 16000);
  EXPECT_EQ(wave->source_channels, 2);
  EXPECT_THAT(wave->samples, ::testing::ElementsAre(0.0f, 0.25f));
}

TEST(AudioTest, FramesArePaddedTo640) {
  std::vector<float> samples(1300, 0.5f);
  AudioFrames frames = FrameAudio(samples);
  EXPECT_EQ(frames.num_frames, 3);  // ceil(1300 / 640)
  EXPECT_EQ(frames.samples, 1300);
  ASSERT_EQ(frames.frames.size(), 3u * 640);
  EXPECT_EQ(frames.frames[1299], 0.5f);
  EXPECT_EQ(frames.frames[1300], 0.0f);
  EXPECT_EQ(frames.frames.back(), 0.0f);
  EXPECT_EQ(FrameAudio(std::vector<float>(640, 1.f)).num_frames, 1);
}

TEST(AudioTest, ResampleKeepsDurationAndIdentity) {
  std::vector<float> tone(48000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = std::sin(2 * M_PI * 440 * i / 48000.0);
  absl::StatusOr<std::vector<float>> out = Resample(tone, 48000, 16000);
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR(static_cast<double>(out->size()), 16000, 1);
  // Away from the edges the 16 kHz signal is the same tone: compare with the analytic one.
  double max_error = 0;
  for (size_t i = 1000; i + 1000 < out->size(); ++i) {
    max_error = std::max(max_error, std::abs((*out)[i] - std::sin(2 * M_PI * 440 * i / 16000.0)));
  }
  EXPECT_LT(max_error, 1e-3);
  EXPECT_EQ(*Resample(tone, 16000, 16000), tone);
}

TEST(AudioTest, RejectsBadInputWithReasons) {
  const std::string wav = Wav(16000, 1, 1, Pcm16({1, 2, 3}));
  EXPECT_THAT(std::string(DecodeAudio("ID3...mp3", "", AudioLimits()).status().message()),
              HasSubstr("not a WAV, FLAC or Ogg"));
  EXPECT_THAT(std::string(DecodeAudio(wav, "audio/flac", AudioLimits()).status().message()),
              HasSubstr("does not match the data (WAV)"));
  EXPECT_EQ(DecodeAudio(wav, "audio/mpeg", AudioLimits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(DecodeAudio(Wav(16000, 1, 1, ""), "", AudioLimits()).status().message()),
              HasSubstr("no samples"));
  EXPECT_EQ(DecodeAudio(wav.substr(0, 30), "", AudioLimits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(DecodeAudio("OggS\0\x02", "", AudioLimits()).status().message()),
              HasSubstr("Ogg audio is not accepted"));
  float bad[2] = {0.1f, NAN};
  const std::string nan_wav = Wav(16000, 1, 3, std::string(reinterpret_cast<char*>(bad), 8));
  EXPECT_THAT(std::string(DecodeAudio(nan_wav, "", AudioLimits()).status().message()),
              HasSubstr("non-finite"));
}

TEST(AudioTest, LimitsOnBytesAndDuration) {
  const std::string two_seconds = Wav(8000, 1, 1, Pcm16(std::vector<int16_t>(16000, 7)));
  AudioLimits limits;
  limits.max_seconds = 1.5;
  absl::Status status = DecodeAudio(two_seconds, "", limits).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("seconds exceed the limit"));
  limits.max_seconds = 30;
  limits.max_bytes = 100;
  EXPECT_EQ(DecodeAudio(two_seconds, "", limits).status().code(),
            absl::StatusCode::kResourceExhausted);
  absl::StatusOr<AudioFrames> frames = PreprocessAudio(two_seconds, "", AudioLimits());
  ASSERT_TRUE(frames.ok());
  EXPECT_NEAR(static_cast<double>(frames->samples), 32000, 1);
  EXPECT_EQ(frames->num_frames, 50);
}

}  // namespace
}  // namespace gemma
