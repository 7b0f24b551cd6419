// Checks the service contracts against the rules every later issue builds on: versioned packages,
// prefixed enums whose zero value is *_UNSPECIFIED, and the RPCs each service must offer with the
// streaming shape the clients rely on. Reads the compiled-in descriptors, so it tests what ships.
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gemma/preprocess/v1/preprocess.grpc.pb.h"
#include "gemma/v1/gemma_service.grpc.pb.h"
#include "gemma/worker/v1/worker.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::EnumDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

// UpperCamel -> UPPER_SNAKE ("FinishReason" -> "FINISH_REASON").
std::string UpperSnake(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(name[i])) out += '_';
    out += absl::ascii_toupper(name[i]);
  }
  return out;
}

std::vector<const FileDescriptor*> OurFiles() {
  std::vector<const FileDescriptor*> files;
  for (const char* name :
       {"gemma/v1/content.proto", "gemma/v1/sampling.proto", "gemma/v1/gemma_service.proto",
        "gemma/preprocess/v1/media.proto", "gemma/preprocess/v1/preprocess.proto",
        "gemma/worker/v1/worker.proto"}) {
    const FileDescriptor* file = DescriptorPool::generated_pool()->FindFileByName(name);
    EXPECT_NE(file, nullptr) << name;
    if (file != nullptr) files.push_back(file);
  }
  return files;
}

void CheckEnum(const EnumDescriptor* e) {
  const std::string prefix = UpperSnake(e->name()) + "_";
  ASSERT_GT(e->value_count(), 0);
  EXPECT_EQ(e->value(0)->number(), 0) << e->full_name();
  EXPECT_EQ(e->value(0)->name(), prefix + "UNSPECIFIED") << e->full_name();
  for (int i = 0; i < e->value_count(); ++i) {
    EXPECT_TRUE(absl::StartsWith(e->value(i)->name(), prefix))
        << e->value(i)->full_name() << " lacks prefix " << prefix;
  }
}

TEST(ContractTest, PackagesAreVersioned) {
  for (const FileDescriptor* file : OurFiles()) {
    EXPECT_TRUE(absl::StartsWith(file->package(), "gemma."));
    EXPECT_TRUE(absl::StrContains(file->package() + ".", ".v1.")) << file->name();
    EXPECT_EQ(file->syntax(), FileDescriptor::SYNTAX_PROTO3) << file->name();
  }
}

TEST(ContractTest, EnumsArePrefixedAndStartUnspecified) {
  for (const FileDescriptor* file : OurFiles()) {
    for (int i = 0; i < file->enum_type_count(); ++i) CheckEnum(file->enum_type(i));
    for (int m = 0; m < file->message_type_count(); ++m) {
      for (int i = 0; i < file->message_type(m)->enum_type_count(); ++i) {
        CheckEnum(file->message_type(m)->enum_type(i));
      }
    }
  }
}

const ServiceDescriptor* Service(const std::string& full_name) {
  return DescriptorPool::generated_pool()->FindServiceByName(full_name);
}

struct Rpc {
  const char* name;
  bool server_streaming;
};

void ExpectService(const ServiceDescriptor* service, const std::vector<Rpc>& rpcs) {
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->method_count(), static_cast<int>(rpcs.size())) << service->full_name();
  for (const Rpc& rpc : rpcs) {
    const MethodDescriptor* method = service->FindMethodByName(rpc.name);
    ASSERT_NE(method, nullptr) << service->full_name() << "/" << rpc.name;
    EXPECT_FALSE(method->client_streaming()) << method->full_name();
    EXPECT_EQ(method->server_streaming(), rpc.server_streaming) << method->full_name();
  }
}

TEST(ContractTest, PublicApiOffersStreamingAndUnaryGenerateAndControlRpcs) {
  ExpectService(Service("gemma.v1.Gemma"), {{"Generate", true},
                                                 {"GenerateUnary", false},
                                                 {"Abort", false},
                                                 {"CountTokens", false},
                                                 {"Tokenize", false},
                                                 {"GetModelInfo", false}});
}

TEST(ContractTest, PreprocessApi) {
  ExpectService(Service("gemma.preprocess.v1.Preprocess"), {{"Preprocess", false},
                                                                  {"Tokenize", false},
                                                                  {"Detokenize", false},
                                                                  {"CountTokens", false}});
}

TEST(ContractTest, WorkerApiIsBatchLevel) {
  ExpectService(Service("gemma.worker.v1.Worker"), {{"Info", false},
                                                          {"Warmup", false},
                                                          {"Step", false},
                                                          {"Release", false},
                                                          {"ClearCache", false},
                                                          {"Health", false}});
  // A step carries batches of explicit, id-keyed work items.
  const auto* step = gemma::worker::v1::StepRequest::descriptor();
  EXPECT_TRUE(step->FindFieldByName("prefill")->is_repeated());
  EXPECT_TRUE(step->FindFieldByName("decode")->is_repeated());
  const auto* decode = gemma::worker::v1::DecodeItem::descriptor();
  for (const char* field : {"sequence_id", "token_id", "position", "num_draft_tokens", "blocks"}) {
    EXPECT_NE(decode->FindFieldByName(field), nullptr) << field;
  }
}

TEST(ContractTest, PublicRequestCarriesEverySamplingAndStoppingControl) {
  const auto* sampling = gemma::v1::SamplingParams::descriptor();
  for (const char* field : {"temperature", "top_k", "top_p", "min_p", "seed", "repetition_penalty",
                            "presence_penalty", "frequency_penalty"}) {
    ASSERT_NE(sampling->FindFieldByName(field), nullptr) << field;
    // Unset must be distinguishable from 0 so the model's defaults can apply.
    EXPECT_TRUE(sampling->FindFieldByName(field)->has_presence()) << field;
  }
  const auto* stopping = gemma::v1::StoppingCriteria::descriptor();
  for (const char* field : {"max_tokens", "stop", "stop_token_ids", "ignore_eos"}) {
    EXPECT_NE(stopping->FindFieldByName(field), nullptr) << field;
  }
}

TEST(ContractTest, MessagesRoundTripThroughTheWire) {
  gemma::v1::GenerateRequest request;
  request.set_request_id("r-1");
  auto* message = request.mutable_prompt()->mutable_chat()->add_messages();
  message->set_role(gemma::v1::ROLE_USER);
  message->add_parts()->set_text("What is in this picture? <|turn>");
  message->add_parts()->mutable_image()->set_data(std::string("\x89PNG\0\1", 6));
  request.mutable_sampling()->set_temperature(0.f);
  std::string wire = request.SerializeAsString();
  gemma::v1::GenerateRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.prompt().chat().messages(0).parts(0).text(), "What is in this picture? <|turn>");
  EXPECT_EQ(parsed.prompt().chat().messages(0).parts(1).image().data().size(), 6u);
  EXPECT_TRUE(parsed.sampling().has_temperature());
  EXPECT_FALSE(parsed.sampling().has_top_p());
}

}  // namespace
}  // namespace gemma
