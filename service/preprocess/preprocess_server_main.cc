// The preprocess server: chat template, tokenizer, image and audio preprocessing over gRPC.
//   preprocess_server --model=DIR|tokenizer.json|vocab.gguf [--port=50051] [limits...]
// Serving as soon as the vocabulary is loaded; SIGTERM/SIGINT drain as the common server does.
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "preprocess/preprocessor.h"
#include "service/common/grpc_server.h"
#include "service/common/log.h"
#include "service/common/shutdown_signal.h"
#include "service/preprocess/preprocess_service.h"

ABSL_FLAG(std::string, model, "",
          "Model directory (tokenizer.json), a tokenizer.json or a GGUF vocabulary");
ABSL_FLAG(uint64_t, max_image_bytes, 20 << 20, "Largest encoded image");
ABSL_FLAG(int64_t, max_image_pixels, 40'000'000, "Largest decoded image (width x height)");
ABSL_FLAG(int, max_images_per_request, 16, "Images in one prompt");
ABSL_FLAG(int, default_image_soft_tokens, 280, "Soft tokens per image when the request says 0");
ABSL_FLAG(uint64_t, max_audio_bytes, 32 << 20, "Largest encoded audio clip");
ABSL_FLAG(double, max_audio_seconds, 30, "Longest audio clip");
ABSL_FLAG(int, max_audios_per_request, 8, "Audio clips in one prompt");
ABSL_FLAG(bool, allow_ogg_audio, false,
          "Accept Ogg Vorbis (libsndfile leaks ~6 KB per malformed Ogg stream; see audio.h)");
ABSL_FLAG(bool, debug_prompts, false, "Return the rendered prompt text in PreprocessResponse");

int main(int argc, char** argv) {
  gemma::ShutdownSignal shutdown_signal;  // Before any thread starts.
  absl::SetProgramUsageMessage("gemma-serve preprocess server (gemma.preprocess.v1.Preprocess).");
  absl::ParseCommandLine(argc, argv);
  const char* kName = "preprocess";

  absl::StatusOr<gemma::ServerOptions> options = gemma::ServerOptionsFromFlags(50051);
  if (!options.ok()) {
    gemma::LogError(kName, "%s", options.status().ToString());
    return EXIT_FAILURE;
  }
  auto tokenizer = gemma::Tokenizer::Load(absl::GetFlag(FLAGS_model));
  if (!tokenizer.ok()) {
    gemma::LogError(kName, "%s", tokenizer.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::PreprocessorOptions preprocess;
  preprocess.image.max_bytes = absl::GetFlag(FLAGS_max_image_bytes);
  preprocess.image.max_pixels = absl::GetFlag(FLAGS_max_image_pixels);
  preprocess.max_images_per_request = absl::GetFlag(FLAGS_max_images_per_request);
  preprocess.default_image_soft_tokens = absl::GetFlag(FLAGS_default_image_soft_tokens);
  preprocess.audio.max_bytes = absl::GetFlag(FLAGS_max_audio_bytes);
  preprocess.audio.max_seconds = absl::GetFlag(FLAGS_max_audio_seconds);
  preprocess.max_audios_per_request = absl::GetFlag(FLAGS_max_audios_per_request);
  preprocess.audio.allow_ogg = absl::GetFlag(FLAGS_allow_ogg_audio);
  preprocess.include_rendered_prompt = absl::GetFlag(FLAGS_debug_prompts);
  auto preprocessor = gemma::Preprocessor::Create(**tokenizer, preprocess);
  if (!preprocessor.ok()) {
    gemma::LogError(kName, "%s", preprocessor.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::monitoring::Registry registry;
  gemma::PreprocessService service(**preprocessor, &registry);
  absl::StatusOr<std::unique_ptr<gemma::GrpcServer>> server = gemma::GrpcServer::Start(
      *options, {{&service, gemma::preprocess::v1::Preprocess::service_full_name()}},
      /*serving=*/true, &registry);
  if (!server.ok()) {
    gemma::LogError(kName, "%s", server.status().ToString());
    return EXIT_FAILURE;
  }
  gemma::LogInfo(kName, "serving %s (vocabulary %s, %d pieces)", (*server)->address(),
                 absl::GetFlag(FLAGS_model), (*tokenizer)->vocab_size());
  const int signal = shutdown_signal.Wait();
  gemma::LogInfo(kName, "signal %d: shutting down", signal);
  (*server)->Shutdown();
  return EXIT_SUCCESS;
}
