#include "service/preprocess/preprocess_service.h"

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "service/common/status_util.h"

namespace gemma {
namespace {

const char* PromptKind(const v1::PromptInput& prompt) {
  switch (prompt.input_case()) {
    case v1::PromptInput::kChat: return "chat";
    case v1::PromptInput::kRaw: return "raw";
    case v1::PromptInput::kTokenIds: return "token_ids";
    default: return "none";
  }
}

// What media a prompt carries: text, image, audio or mixed.
const char* MediaKind(const v1::PromptInput& prompt) {
  bool image = false, audio = false;
  for (const v1::ChatMessage& message : prompt.chat().messages()) {
    for (const v1::ContentPart& part : message.parts()) {
      image |= part.has_image();
      audio |= part.has_audio();
    }
  }
  return image && audio ? "mixed" : image ? "image" : audio ? "audio" : "text";
}

std::string Outcome(const absl::Status& status) {
  if (status.ok()) return "ok";
  std::string name = absl::StatusCodeToString(status.code());
  for (char& c : name) c = absl::ascii_tolower(c);
  return name;
}

}  // namespace

PreprocessService::PreprocessService(const Preprocessor& preprocessor,
                                     monitoring::Registry* registry)
    : preprocessor_(preprocessor),
      requests_(registry->AddCounter("gemma_preprocess_requests_total",
                                     "Preprocess calls by RPC, prompt media and outcome.",
                                     {"rpc", "kind", "outcome"})),
      prompt_tokens_(registry->AddHistogram(
          "gemma_preprocess_prompt_tokens", "Prompt length in tokens after preprocessing.",
          {"kind"}, {16, 64, 256, 1024, 4096, 16384, 65536, 131072})),
      media_(registry->AddCounter("gemma_preprocess_media_total",
                                  "Images and audio clips preprocessed.", {"kind"})),
      media_tokens_(registry->AddCounter("gemma_preprocess_media_tokens_total",
                                         "Soft tokens produced for images and audio.", {"kind"})),
      media_bytes_(registry->AddCounter("gemma_preprocess_media_bytes_total",
                                        "Encoded bytes of the images and audio preprocessed.",
                                        {"kind"})),
      seconds_(registry->AddHistogram(
          "gemma_preprocess_seconds", "Time spent in preprocess handlers.", {"rpc", "kind"},
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}

grpc::Status PreprocessService::Finish(const char* rpc, const char* kind, absl::Time start,
                                       const absl::Status& status) {
  seconds_->WithLabels({rpc, kind})->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  requests_->WithLabels({rpc, kind, Outcome(status)})->Increment();
  return ToGrpcStatus(status);
}

void PreprocessService::ObserveMedia(const preprocess::v1::PreprocessResponse& response,
                                     const v1::PromptInput& prompt) {
  prompt_tokens_->WithLabels({PromptKind(prompt)})->Observe(response.token_ids_size());
  for (const preprocess::v1::MediaItem& item : response.media()) {
    const char* kind = item.kind() == preprocess::v1::MEDIA_KIND_IMAGE ? "image" : "audio";
    media_->WithLabels({kind})->Increment();
    media_tokens_->WithLabels({kind})->Increment(item.num_tokens());
  }
  for (const v1::ChatMessage& message : prompt.chat().messages()) {
    for (const v1::ContentPart& part : message.parts()) {
      if (part.has_image()) media_bytes_->WithLabels({"image"})->Increment(part.image().data().size());
      if (part.has_audio()) media_bytes_->WithLabels({"audio"})->Increment(part.audio().data().size());
    }
  }
}

grpc::Status PreprocessService::Preprocess(grpc::ServerContext*,
                                           const preprocess::v1::PreprocessRequest* request,
                                           preprocess::v1::PreprocessResponse* response) {
  const absl::Time start = absl::Now();
  absl::Status status = preprocessor_.Preprocess(request->prompt(), response);
  if (status.ok()) ObserveMedia(*response, request->prompt());
  return Finish("Preprocess", MediaKind(request->prompt()), start, status);
}

grpc::Status PreprocessService::Tokenize(grpc::ServerContext*, const v1::TokenizeRequest* request,
                                         v1::TokenizeResponse* response) {
  const absl::Time start = absl::Now();
  return Finish("Tokenize", "text", start, preprocessor_.Tokenize(*request, response));
}

grpc::Status PreprocessService::Detokenize(grpc::ServerContext*,
                                           const preprocess::v1::DetokenizeRequest* request,
                                           preprocess::v1::DetokenizeResponse* response) {
  const absl::Time start = absl::Now();
  return Finish("Detokenize", "text", start, preprocessor_.Detokenize(*request, response));
}

grpc::Status PreprocessService::CountTokens(grpc::ServerContext*,
                                            const v1::CountTokensRequest* request,
                                            v1::CountTokensResponse* response) {
  const absl::Time start = absl::Now();
  return Finish("CountTokens", MediaKind(request->prompt()), start,
                preprocessor_.CountTokens(request->prompt(), response));
}

}  // namespace gemma
