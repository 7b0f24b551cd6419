#include "preprocess/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

// libsndfile reads from memory through these callbacks.
struct MemoryFile {
  absl::string_view data;
  sf_count_t position = 0;
};

sf_count_t Length(void* user) { return static_cast<MemoryFile*>(user)->data.size(); }

sf_count_t Seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  sf_count_t base = whence == SEEK_CUR ? file->position
                    : whence == SEEK_END ? static_cast<sf_count_t>(file->data.size())
                                         : 0;
  const sf_count_t target = base + offset;
  if (target < 0 || target > static_cast<sf_count_t>(file->data.size())) return -1;
  file->position = target;
  return target;
}

sf_count_t Read(void* out, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const sf_count_t available = static_cast<sf_count_t>(file->data.size()) - file->position;
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, available));
  std::memcpy(out, file->data.data() + file->position, n);
  file->position += n;
  return n;
}

sf_count_t Write(const void*, sf_count_t, void*) { return 0; }
sf_count_t Tell(void* user) { return static_cast<MemoryFile*>(user)->position; }

absl::string_view FormatName(AudioFormat format) {
  switch (format) {
    case AudioFormat::kWav: return "WAV";
    case AudioFormat::kFlac: return "FLAC";
    case AudioFormat::kOgg: return "Ogg";
    default: return "unknown";
  }
}

absl::Status CheckMime(absl::string_view mime_type, AudioFormat format) {
  if (mime_type.empty()) return absl::OkStatus();
  const std::string mime = absl::AsciiStrToLower(mime_type);
  AudioFormat declared = AudioFormat::kUnknown;
  if (mime == "audio/wav" || mime == "audio/x-wav" || mime == "audio/wave" ||
      mime == "audio/vnd.wave") {
    declared = AudioFormat::kWav;
  }
  if (mime == "audio/flac" || mime == "audio/x-flac") declared = AudioFormat::kFlac;
  if (mime == "audio/ogg" || mime == "audio/vorbis") declared = AudioFormat::kOgg;
  if (declared == AudioFormat::kUnknown) {
    return absl::InvalidArgumentError(
        absl::StrCat("mime_type \"", mime_type, "\" is not audio/wav, audio/flac or audio/ogg"));
  }
  if (declared != format) {
    return absl::InvalidArgumentError(absl::StrCat("mime_type \"", mime_type,
                                                   "\" does not match the data (",
                                                   FormatName(format), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

AudioFormat SniffAudioFormat(absl::string_view bytes) {
  if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WAVE") {
    return AudioFormat::kWav;
  }
  if (bytes.substr(0, 4) == "fLaC") return AudioFormat::kFlac;
  if (bytes.substr(0, 4) == "OggS") return AudioFormat::kOgg;
  return AudioFormat::kUnknown;
}

absl::StatusOr<Waveform> DecodeAudio(absl::string_view bytes, absl::string_view mime_type,
                                     const AudioLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(bytes.size(), " bytes exceed the limit of ",
                                                     limits.max_bytes));
  }
  const AudioFormat format = SniffAudioFormat(bytes);
  if (format == AudioFormat::kUnknown) {
    return absl::InvalidArgumentError("not a WAV, FLAC or Ogg audio file");
  }
  absl::Status status = CheckMime(mime_type, format);
  if (!status.ok()) return status;
  if (format == AudioFormat::kOgg && !limits.allow_ogg) {
    return absl::InvalidArgumentError("Ogg audio is not accepted by this server; send WAV or FLAC");
  }

  MemoryFile file{bytes, 0};
  SF_VIRTUAL_IO io{Length, Seek, Read, Write, Tell};
  SF_INFO info;
  std::memset(&info, 0, sizeof(info));
  SNDFILE* sound = sf_open_virtual(&io, SFM_READ, &info, &file);
  if (sound == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(FormatName(format), ": ", sf_strerror(nullptr)));
  }
  auto close = [&] { sf_close(sound); };
  if (info.samplerate <= 0 || info.channels <= 0 || info.channels > 64) {
    close();
    return absl::InvalidArgumentError(absl::StrCat(FormatName(format), ": bad header (",
                                                   info.samplerate, " Hz, ", info.channels,
                                                   " channels)"));
  }
  const sf_count_t max_frames =
      static_cast<sf_count_t>(std::floor(limits.max_seconds * info.samplerate));
  if (info.frames > max_frames) {
    close();
    return absl::ResourceExhaustedError(absl::StrCat(
        FormatName(format), ": ", static_cast<double>(info.frames) / info.samplerate,
        " seconds exceed the limit of ", limits.max_seconds));
  }
  Waveform waveform;
  waveform.sample_rate = info.samplerate;
  waveform.source_channels = info.channels;
  std::vector<float> block(static_cast<size_t>(4096) * info.channels);
  while (true) {
    const sf_count_t got = sf_readf_float(sound, block.data(), 4096);
    if (got <= 0) break;
    for (sf_count_t f = 0; f < got; ++f) {
      float sum = 0;
      for (int c = 0; c < info.channels; ++c) sum += block[f * info.channels + c];
      const float mono = info.channels == 1 ? sum : sum / info.channels;
      if (!std::isfinite(mono)) {
        close();
        return absl::InvalidArgumentError(
            absl::StrCat(FormatName(format), ": non-finite sample at frame ",
                         waveform.samples.size()));
      }
      waveform.samples.push_back(mono);
    }
    if (static_cast<sf_count_t>(waveform.samples.size()) > max_frames) {
      close();
      return absl::ResourceExhaustedError(absl::StrCat(
          FormatName(format), ": longer than the limit of ", limits.max_seconds, " seconds"));
    }
  }
  const int error = sf_error(sound);
  close();
  if (error != SF_ERR_NO_ERROR && waveform.samples.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(FormatName(format), ": ", sf_error_number(error)));
  }
  if (waveform.samples.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(FormatName(format), ": no samples"));
  }
  return waveform;
}

absl::StatusOr<std::vector<float>> Resample(const std::vector<float>& samples, int input_rate,
                                            int output_rate) {
  if (input_rate == output_rate) return samples;
  const double ratio = static_cast<double>(output_rate) / input_rate;
  std::vector<float> out(static_cast<size_t>(std::ceil(samples.size() * ratio)) + 16);
  size_t produced = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t error =
      soxr_oneshot(input_rate, output_rate, 1, samples.data(), samples.size(), nullptr,
                   out.data(), out.size(), &produced, &io, &quality, nullptr);
  if (error != nullptr) {
    return absl::InternalError(absl::StrCat("resampling ", input_rate, " Hz: ", error));
  }
  out.resize(produced);
  return out;
}

AudioFrames FrameAudio(const std::vector<float>& samples) {
  AudioFrames frames;
  frames.samples = static_cast<int64_t>(samples.size());
  frames.num_frames =
      static_cast<int>((samples.size() + kAudioFrameSamples - 1) / kAudioFrameSamples);
  frames.frames.assign(static_cast<size_t>(frames.num_frames) * kAudioFrameSamples, 0.0f);
  std::copy(samples.begin(), samples.end(), frames.frames.begin());
  return frames;
}

absl::StatusOr<AudioFrames> PreprocessAudio(absl::string_view bytes, absl::string_view mime_type,
                                            const AudioLimits& limits) {
  absl::StatusOr<Waveform> waveform = DecodeAudio(bytes, mime_type, limits);
  if (!waveform.ok()) return waveform.status();
  absl::StatusOr<std::vector<float>> resampled =
      Resample(waveform->samples, waveform->sample_rate, kAudioSampleRate);
  if (!resampled.ok()) return resampled.status();
  if (resampled->empty()) return absl::InvalidArgumentError("audio shorter than one sample at 16 kHz");
  return FrameAudio(*resampled);
}

}  // namespace gemma
