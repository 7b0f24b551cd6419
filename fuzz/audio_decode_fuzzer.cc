// WAV / FLAC / Ogg decoding, resampling and framing must refuse bad input with a status.
#include <cstddef>
#include <cstdint>

#include "preprocess/audio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gemma::AudioLimits limits;
  limits.max_seconds = 5;
  absl::StatusOr<gemma::AudioFrames> frames = gemma::PreprocessAudio(
      absl::string_view(reinterpret_cast<const char*>(data), size), "", limits);
  if (frames.ok() && frames->frames.size() !=
                         static_cast<size_t>(frames->num_frames) * gemma::kAudioFrameSamples) {
    __builtin_trap();
  }
  return 0;
}
