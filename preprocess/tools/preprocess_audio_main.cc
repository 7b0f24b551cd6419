// Runs the audio pipeline on a file and writes what it produced, for comparisons with other
// implementations.
//   preprocess_audio --input=FILE [--decoded=OUT.f32] [--resampled=OUT.f32] [--frames=OUT.f32]
// Prints "rate R channels C samples N frames F" (N: samples at 16 kHz). .f32 files are raw
// little-endian float32: the mono decoded samples, the 16 kHz samples, the padded frames.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "preprocess/audio.h"

ABSL_FLAG(std::string, input, "", "WAV, FLAC or Ogg file");
ABSL_FLAG(std::string, decoded, "", "write the decoded mono samples here");
ABSL_FLAG(std::string, resampled, "", "write the 16 kHz samples here");
ABSL_FLAG(std::string, frames, "", "write the padded 640-sample frames here");
ABSL_FLAG(double, max_seconds, 30, "duration limit");

namespace {
void Write(const std::string& path, const std::vector<float>& values) {
  if (path.empty()) return;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::ifstream in(absl::GetFlag(FLAGS_input), std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  gemma::AudioLimits limits;
  limits.max_seconds = absl::GetFlag(FLAGS_max_seconds);
  limits.allow_ogg = true;  // Trusted local files.
  absl::StatusOr<gemma::Waveform> waveform = gemma::DecodeAudio(buffer.str(), "", limits);
  if (!waveform.ok()) {
    std::cerr << waveform.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::vector<float>> resampled =
      gemma::Resample(waveform->samples, waveform->sample_rate, gemma::kAudioSampleRate);
  if (!resampled.ok()) {
    std::cerr << resampled.status() << "\n";
    return 1;
  }
  const gemma::AudioFrames frames = gemma::FrameAudio(*resampled);
  Write(absl::GetFlag(FLAGS_decoded), waveform->samples);
  Write(absl::GetFlag(FLAGS_resampled), *resampled);
  Write(absl::GetFlag(FLAGS_frames), frames.frames);
  std::cout << "rate " << waveform->sample_rate << " channels " << waveform->source_channels
            << " samples " << frames.samples << " frames " << frames.num_frames << "\n";
  return 0;
}
