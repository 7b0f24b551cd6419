// A command-line client of the router (gemma.v1.Gemma).
//   gemma_client --server=HOST:PORT [--system=TEXT] [--image=FILE]... [--audio=FILE]...
//                [--max_tokens=64] [--temperature=0] [--seed=N] [--stop=STR]... [--json] TEXT
// Streams the generated text to stdout as it arrives; --json prints each message as a JSON line
// instead. Exits non-zero with the status on failure.
#include <fstream>
#include <iostream>
#include <sstream>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "client/channel.h"
#include "gemma/v1/gemma_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

ABSL_FLAG(std::string, system, "", "System prompt");
ABSL_FLAG(std::vector<std::string>, image, {}, "Image files (PNG, JPEG, WebP)");
ABSL_FLAG(std::vector<std::string>, audio, {}, "Audio files (WAV, FLAC)");
ABSL_FLAG(int, max_tokens, 64, "Tokens to generate at most");
ABSL_FLAG(double, temperature, 0, "0: greedy");
ABSL_FLAG(int64_t, seed, -1, "Sampling seed (-1: the server draws one)");
ABSL_FLAG(std::vector<std::string>, stop, {}, "Stop strings");
ABSL_FLAG(bool, ignore_eos, false, "Do not stop at end-of-turn tokens");
ABSL_FLAG(bool, json, false, "Print every streamed message as a JSON line");

namespace {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}
}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Sends a chat to the gemma-serve router and streams the answer.");
  std::vector<char*> text = absl::ParseCommandLine(argc, argv);
  gemma::v1::GenerateRequest request;
  gemma::v1::ChatInput* chat = request.mutable_prompt()->mutable_chat();
  if (!absl::GetFlag(FLAGS_system).empty()) {
    gemma::v1::ChatMessage* system = chat->add_messages();
    system->set_role(gemma::v1::ROLE_SYSTEM);
    system->add_parts()->set_text(absl::GetFlag(FLAGS_system));
  }
  gemma::v1::ChatMessage* user = chat->add_messages();
  user->set_role(gemma::v1::ROLE_USER);
  user->add_parts()->set_text(absl::StrJoin(text.begin() + 1, text.end(), " "));
  for (const std::string& path : absl::GetFlag(FLAGS_image)) {
    user->add_parts()->mutable_image()->set_data(ReadFile(path));
  }
  for (const std::string& path : absl::GetFlag(FLAGS_audio)) {
    user->add_parts()->mutable_audio()->set_data(ReadFile(path));
  }
  request.mutable_sampling()->set_temperature(absl::GetFlag(FLAGS_temperature));
  if (absl::GetFlag(FLAGS_seed) >= 0) request.mutable_sampling()->set_seed(absl::GetFlag(FLAGS_seed));
  request.mutable_stopping()->set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  request.mutable_stopping()->set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  for (const std::string& stop : absl::GetFlag(FLAGS_stop)) request.mutable_stopping()->add_stop(stop);

  absl::StatusOr<gemma::ClientChannelOptions> channel_options =
      gemma::ClientChannelOptionsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      channel_options.ok() ? gemma::MakeClientChannel(*channel_options)
                           : absl::StatusOr<std::shared_ptr<grpc::Channel>>(channel_options.status());
  if (!channel.ok()) {
    std::cerr << channel.status() << "\n";
    return 2;
  }
  auto stub = gemma::v1::Gemma::NewStub(*channel);
  grpc::ClientContext context;
  gemma::Authorize(*channel_options, &context);
  std::unique_ptr<grpc::ClientReader<gemma::v1::GenerateResponse>> reader =
      stub->Generate(&context, request);
  gemma::v1::GenerateResponse message, last;
  while (reader->Read(&message)) {
    if (absl::GetFlag(FLAGS_json)) {
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(message, &line);
      std::cout << line << std::endl;
    } else {
      std::cout << message.text() << std::flush;
    }
    last = message;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::cerr << "\nerror: " << status.error_code() << ": " << status.error_message() << "\n";
    return 1;
  }
  if (!absl::GetFlag(FLAGS_json)) {
    std::cerr << "\n[" << gemma::v1::FinishReason_Name(last.finish_reason()) << "; prompt "
              << last.usage().prompt_tokens() << " tokens, generated "
              << last.usage().completion_tokens() << " (MTP drafted "
              << last.usage().drafted_tokens() << ", accepted " << last.usage().accepted_tokens()
              << "); first token after "
              << last.timings().time_to_first_token_us() / 1000 << " ms, total "
              << last.timings().total_us() / 1000 << " ms]\n";
  }
  return 0;
}
