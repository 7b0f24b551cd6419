// Renders conversations with the native chat template.
//   render_chat --vocab=PATH --conversations=FILE.json
// FILE.json: [ChatInput in protobuf JSON form, ...]. Prints a JSON array with, per conversation,
// {"text": rendered text, "ids": token ids, "plain_ids": ids of the text tokenized with special
// parsing everywhere, "media": placeholders} or {"error": status}.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "preprocess/chat_template.h"

ABSL_FLAG(std::string, vocab, "", "tokenizer.json, model directory or .gguf");
ABSL_FLAG(std::string, conversations, "", "JSON array of gemma.v1.ChatInput");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto tokenizer = gemma::Tokenizer::Load(absl::GetFlag(FLAGS_vocab));
  if (!tokenizer.ok()) {
    std::cerr << tokenizer.status() << "\n";
    return 1;
  }
  absl::StatusOr<gemma::ChatFormat> format = gemma::ChatFormatFor(**tokenizer);
  if (!format.ok()) {
    std::cerr << format.status() << "\n";
    return 1;
  }
  std::ifstream in(absl::GetFlag(FLAGS_conversations), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json conversations = nlohmann::json::parse(text.str(), nullptr, false);
  if (!conversations.is_array()) {
    std::cerr << "--conversations: not a JSON array\n";
    return 1;
  }
  nlohmann::json results = nlohmann::json::array();
  for (const nlohmann::json& conversation : conversations) {
    gemma::v1::ChatInput chat;
    auto parsed = google::protobuf::util::JsonStringToMessage(conversation.dump(), &chat);
    if (!parsed.ok()) {
      std::cerr << "bad conversation " << conversation.dump() << ": " << parsed.ToString() << "\n";
      return 1;
    }
    absl::StatusOr<gemma::RenderedPrompt> rendered = gemma::RenderChat(chat, *format);
    if (!rendered.ok()) {
      results.push_back({{"error", rendered.status().ToString()}});
      continue;
    }
    nlohmann::json media = nlohmann::json::array();
    for (const gemma::MediaPlaceholder& m : rendered->media) {
      media.push_back({{"kind", m.kind == gemma::MediaPlaceholder::Kind::kImage ? "image" : "audio"},
                       {"message", m.message_index},
                       {"part", m.part_index}});
    }
    results.push_back(
        {{"text", rendered->text},
         {"ids", gemma::TokenizePrompt(**tokenizer, *rendered)},
         {"plain_ids", (*tokenizer)->Encode(rendered->text, {.parse_special = true})},
         {"media", media}});
  }
  std::cout << results.dump() << "\n";
  return 0;
}
