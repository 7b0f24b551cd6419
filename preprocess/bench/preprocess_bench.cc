// Preprocessing throughput on one core: tokenizer tokens/s (cold word cache and warm), chat
// rendering, images/s, audio seconds/s. With --llama_tokens_per_second (measured by
// llama_tokenize_bench.mjs on the same text in the same run) it prints our ratio to llama.cpp.
//   preprocess_bench --vocab=V.gguf --text=FILE [--image=F]... [--audio=F]... [--runs=5]
// preprocess_bench.sh builds the inputs and runs everything.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "preprocess/audio.h"
#include "preprocess/image.h"
#include "preprocess/tokenizer.h"

ABSL_FLAG(std::string, vocab, "", "Gemma 4 GGUF vocabulary or tokenizer.json");
ABSL_FLAG(std::string, text, "", "text file to tokenize (e.g. 1 MB of English)");
ABSL_FLAG(std::vector<std::string>, image, {}, "image files");
ABSL_FLAG(std::vector<std::string>, audio, {}, "audio files");
ABSL_FLAG(int, runs, 5, "timed repetitions (median reported)");
ABSL_FLAG(double, llama_tokens_per_second, 0, "llama.cpp's rate on the same text");

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

template <typename F>
double MedianSeconds(int runs, F&& body) {
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int runs = absl::GetFlag(FLAGS_runs);
  const std::string text = ReadFile(absl::GetFlag(FLAGS_text));
  // A fresh tokenizer per cold run: its word cache starts empty.
  auto cold_tokenizer = gemma::Tokenizer::Load(absl::GetFlag(FLAGS_vocab));
  if (!cold_tokenizer.ok() || text.empty()) {
    std::fprintf(stderr, "need --vocab and --text (%s)\n",
                 cold_tokenizer.status().ToString().c_str());
    return 1;
  }
  size_t tokens = 0;
  const double cold = MedianSeconds(1, [&] { tokens = (*cold_tokenizer)->Encode(text, {}).size(); });
  const gemma::Tokenizer& tokenizer = **cold_tokenizer;
  const double warm = MedianSeconds(runs, [&] { tokens = tokenizer.Encode(text, {}).size(); });
  std::vector<int32_t> ids = tokenizer.Encode(text, {});
  const double decode = MedianSeconds(runs, [&] { tokenizer.Decode(ids); });
  std::printf("tokenizer: %zu bytes -> %zu tokens\n", text.size(), tokens);
  std::printf("  encode (cold word cache): %10.0f tokens/s\n", tokens / cold);
  std::printf("  encode (warm word cache): %10.0f tokens/s\n", tokens / warm);
  std::printf("  decode:                   %10.0f tokens/s\n", tokens / decode);
  const double llama = absl::GetFlag(FLAGS_llama_tokens_per_second);
  if (llama > 0) {
    std::printf("  llama.cpp encode:         %10.0f tokens/s  -> ours/llama.cpp: cold %.2fx, warm %.2fx\n",
                llama, tokens / cold / llama, tokens / warm / llama);
  }
  for (const std::string& path : absl::GetFlag(FLAGS_image)) {
    const std::string bytes = ReadFile(path);
    absl::StatusOr<gemma::ImagePatches> patches;
    const double seconds = MedianSeconds(runs, [&] {
      patches = gemma::PreprocessImage(bytes, "", gemma::kDefaultSoftTokens, gemma::ImageLimits());
    });
    if (!patches.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), patches.status().ToString().c_str());
      return 1;
    }
    std::printf("image %s (%dx%d -> %d patches): %.1f images/s\n", path.c_str(),
                patches->source_width, patches->source_height,
                patches->grid_width * patches->grid_height, 1 / seconds);
  }
  for (const std::string& path : absl::GetFlag(FLAGS_audio)) {
    const std::string bytes = ReadFile(path);
    absl::StatusOr<gemma::AudioFrames> frames;
    const double seconds = MedianSeconds(runs, [&] {
      frames = gemma::PreprocessAudio(bytes, "", gemma::AudioLimits());
    });
    if (!frames.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), frames.status().ToString().c_str());
      return 1;
    }
    const double audio_seconds = frames->samples / double(gemma::kAudioSampleRate);
    std::printf("audio %s (%.1f s -> %d frames): %.0f audio seconds/s\n", path.c_str(),
                audio_seconds, frames->num_frames, audio_seconds / seconds);
  }
  return 0;
}
