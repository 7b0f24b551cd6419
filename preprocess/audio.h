// Audio for Gemma 4's encoder-free embedder: decode (WAV PCM 8/16/24/32-bit and float, FLAC,
// and Ogg Vorbis when allowed, via libsndfile), average channels to mono, resample to 16 kHz (libsoxr, high
// quality), cut into 640-sample frames (40 ms) with the last one zero-padded.
//
// Samples are libsndfile's normalized floats (integer PCM / 2^(bits-1)), the values Python's
// soundfile returns. Tokens = ceil(samples at 16 kHz / 640).
#ifndef GEMMA_PREPROCESS_AUDIO_H_
#define GEMMA_PREPROCESS_AUDIO_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gemma {

inline constexpr int kAudioSampleRate = 16000;
inline constexpr int kAudioFrameSamples = 640;

struct AudioLimits {
  size_t max_bytes = 32 << 20;
  double max_seconds = 30;
  // Ogg Vorbis is off by default: Debian's libsndfile 1.2 / libvorbis leak memory (about 6 KB
  // per file, in vorbis_info_init) when an Ogg stream fails to open, so a client sending
  // malformed Ogg could grow the server without bound. Found by audio_decode_fuzzer.
  bool allow_ogg = false;
};

struct Waveform {
  int sample_rate = 0;
  int source_channels = 0;
  std::vector<float> samples;  // Mono.
};

enum class AudioFormat { kUnknown, kWav, kFlac, kOgg };
AudioFormat SniffAudioFormat(absl::string_view bytes);

// INVALID_ARGUMENT for data that is not supported audio, is corrupt, empty or holds non-finite
// samples; RESOURCE_EXHAUSTED beyond the limits (the duration is checked from the header
// before decoding). `mime_type` may be empty; otherwise it must match the data.
absl::StatusOr<Waveform> DecodeAudio(absl::string_view bytes, absl::string_view mime_type,
                                     const AudioLimits& limits);

// Any rate to `output_rate` with libsoxr's high-quality (SOXR_HQ) filter; identity when equal.
absl::StatusOr<std::vector<float>> Resample(const std::vector<float>& samples, int input_rate,
                                            int output_rate);

struct AudioFrames {
  int num_frames = 0;
  int64_t samples = 0;          // At 16 kHz, before padding.
  std::vector<float> frames;    // num_frames * kAudioFrameSamples.
};

AudioFrames FrameAudio(const std::vector<float>& samples_16k);

// Decode, resample, frame.
absl::StatusOr<AudioFrames> PreprocessAudio(absl::string_view bytes, absl::string_view mime_type,
                                            const AudioLimits& limits);

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_AUDIO_H_
