// The gemma.preprocess.v1.Preprocess gRPC service over a Preprocessor. Stateless and
// thread-safe: gRPC's synchronous server runs calls concurrently on its thread pool.
//
// Metrics (beside the common gemma_grpc_server_*); see docs/metrics.md:
//   gemma_preprocess_requests_total{rpc, kind, outcome}  calls; kind text|image|audio|mixed
//                                                         (media in the prompt), outcome ok or
//                                                         the rejection reason (status code)
//   gemma_preprocess_seconds{rpc, kind}                   histogram of handler time
//   gemma_preprocess_prompt_tokens{kind}                  histogram of prompt lengths
//   gemma_preprocess_media_total{kind}                    images / audio clips preprocessed
//   gemma_preprocess_media_tokens_total{kind}             their soft tokens
//   gemma_preprocess_media_bytes_total{kind}              their encoded bytes
#ifndef GEMMA_SERVICE_PREPROCESS_PREPROCESS_SERVICE_H_
#define GEMMA_SERVICE_PREPROCESS_PREPROCESS_SERVICE_H_

#include "absl/time/time.h"
#include "gemma/preprocess/v1/preprocess.grpc.pb.h"
#include "monitoring/metrics.h"
#include "preprocess/preprocessor.h"

namespace gemma {

class PreprocessService final : public preprocess::v1::Preprocess::Service {
 public:
  // Both must outlive the service.
  PreprocessService(const Preprocessor& preprocessor, monitoring::Registry* registry);

  grpc::Status Preprocess(grpc::ServerContext* context,
                          const preprocess::v1::PreprocessRequest* request,
                          preprocess::v1::PreprocessResponse* response) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;
  grpc::Status Detokenize(grpc::ServerContext* context,
                          const preprocess::v1::DetokenizeRequest* request,
                          preprocess::v1::DetokenizeResponse* response) override;
  grpc::Status CountTokens(grpc::ServerContext* context, const v1::CountTokensRequest* request,
                           v1::CountTokensResponse* response) override;

 private:
  // Counts the call and times it; `kind` describes the prompt's media.
  grpc::Status Finish(const char* rpc, const char* kind, absl::Time start,
                      const absl::Status& status);
  void ObserveMedia(const preprocess::v1::PreprocessResponse& response, const v1::PromptInput& prompt);

  const Preprocessor& preprocessor_;
  monitoring::CounterFamily* requests_;
  monitoring::HistogramFamily* prompt_tokens_;
  monitoring::CounterFamily* media_;
  monitoring::CounterFamily* media_tokens_;
  monitoring::CounterFamily* media_bytes_;
  monitoring::HistogramFamily* seconds_;
};

}  // namespace gemma

#endif  // GEMMA_SERVICE_PREPROCESS_PREPROCESS_SERVICE_H_
