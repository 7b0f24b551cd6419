#include "service/preprocess/preprocess_service.h"

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

// Records the handler's duration under `rpc` when it goes out of scope.
class Timer {
 public:
  Timer(monitoring::HistogramFamily* family, const char* rpc)
      : histogram_(family->WithLabels({rpc})), start_(absl::Now()) {}
  ~Timer() { histogram_->Observe(absl::ToDoubleSeconds(absl::Now() - start_)); }

 private:
  monitoring::Histogram* histogram_;
  absl::Time start_;
};

}  // namespace

PreprocessService::PreprocessService(const Preprocessor& preprocessor,
                                     monitoring::Registry* registry)
    : preprocessor_(preprocessor),
      prompt_tokens_(registry->AddHistogram(
          "gemma_preprocess_prompt_tokens", "Prompt length in tokens after preprocessing.",
          {"kind"}, {16, 64, 256, 1024, 4096, 16384, 65536, 131072})),
      media_(registry->AddCounter("gemma_preprocess_media_total",
                                  "Images and audio clips preprocessed.", {"kind"})),
      media_tokens_(registry->AddCounter("gemma_preprocess_media_tokens_total",
                                         "Soft tokens produced for images and audio.", {"kind"})),
      seconds_(registry->AddHistogram(
          "gemma_preprocess_seconds", "Time spent in preprocess handlers.", {"rpc"},
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}

void PreprocessService::Observe(const preprocess::v1::PreprocessResponse& response,
                                const v1::PromptInput& prompt) {
  prompt_tokens_->WithLabels({PromptKind(prompt)})->Observe(response.token_ids_size());
  for (const preprocess::v1::MediaItem& item : response.media()) {
    const char* kind = item.kind() == preprocess::v1::MEDIA_KIND_IMAGE ? "image" : "audio";
    media_->WithLabels({kind})->Increment();
    media_tokens_->WithLabels({kind})->Increment(item.num_tokens());
  }
}

grpc::Status PreprocessService::Preprocess(grpc::ServerContext*,
                                           const preprocess::v1::PreprocessRequest* request,
                                           preprocess::v1::PreprocessResponse* response) {
  Timer timer(seconds_, "Preprocess");
  absl::Status status = preprocessor_.Preprocess(request->prompt(), response);
  if (status.ok()) Observe(*response, request->prompt());
  return ToGrpcStatus(status);
}

grpc::Status PreprocessService::Tokenize(grpc::ServerContext*, const v1::TokenizeRequest* request,
                                         v1::TokenizeResponse* response) {
  Timer timer(seconds_, "Tokenize");
  return ToGrpcStatus(preprocessor_.Tokenize(*request, response));
}

grpc::Status PreprocessService::Detokenize(grpc::ServerContext*,
                                           const preprocess::v1::DetokenizeRequest* request,
                                           preprocess::v1::DetokenizeResponse* response) {
  Timer timer(seconds_, "Detokenize");
  return ToGrpcStatus(preprocessor_.Detokenize(*request, response));
}

grpc::Status PreprocessService::CountTokens(grpc::ServerContext*,
                                            const v1::CountTokensRequest* request,
                                            v1::CountTokensResponse* response) {
  Timer timer(seconds_, "CountTokens");
  return ToGrpcStatus(preprocessor_.CountTokens(request->prompt(), response));
}

}  // namespace gemma
