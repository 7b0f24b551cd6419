// Tokenizes text with a Gemma vocabulary (tokenizer.json, model directory or GGUF).
//   tokenize --vocab=PATH [--parse_special] [--add_bos] TEXT...      prints ids, one line per TEXT
//   tokenize --vocab=PATH --corpus=CORPUS.json [--parse_special]     prints {"ids": [[...], ...]}
//   tokenize --vocab=PATH --export_tokenizer_json=OUT.json         writes the vocabulary as a
//                                                                   Hugging Face tokenizer.json
// CORPUS.json is what tests/tokenizer_parity/build_corpus.mjs writes: {"cases": [...], "english"}.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "nlohmann/json.hpp"
#include "preprocess/tokenizer.h"

ABSL_FLAG(std::string, vocab, "", "tokenizer.json, model directory or .gguf");
ABSL_FLAG(std::string, corpus, "", "corpus JSON to tokenize case by case");
ABSL_FLAG(bool, parse_special, false, "match special-token strings");
ABSL_FLAG(bool, add_bos, false, "prepend <bos>");
ABSL_FLAG(std::string, export_tokenizer_json, "", "write the vocabulary as tokenizer.json here");

int main(int argc, char** argv) {
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  auto tokenizer = gemma::Tokenizer::Load(absl::GetFlag(FLAGS_vocab));
  if (!tokenizer.ok()) {
    std::cerr << tokenizer.status() << "\n";
    return 1;
  }
  if (!absl::GetFlag(FLAGS_export_tokenizer_json).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_export_tokenizer_json), std::ios::binary)
        << gemma::TokenizerJson((*tokenizer)->vocab());
    return 0;
  }
  const gemma::EncodeOptions options{.parse_special = absl::GetFlag(FLAGS_parse_special),
                                     .add_bos = absl::GetFlag(FLAGS_add_bos)};
  if (!absl::GetFlag(FLAGS_corpus).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_corpus), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json corpus = nlohmann::json::parse(text.str(), nullptr, false);
    if (corpus.is_discarded() || !corpus.contains("cases")) {
      std::cerr << absl::GetFlag(FLAGS_corpus) << ": not a corpus file\n";
      return 1;
    }
    std::vector<std::string> texts = corpus["cases"].get<std::vector<std::string>>();
    texts.push_back(corpus.value("english", ""));
    nlohmann::json ids = nlohmann::json::array();
    for (const std::string& t : texts) ids.push_back((*tokenizer)->Encode(t, options));
    std::cout << nlohmann::json{{"ids", ids}}.dump() << "\n";
    return 0;
  }
  for (size_t i = 1; i < args.size(); ++i) {
    std::vector<int32_t> ids = (*tokenizer)->Encode(args[i], options);
    for (size_t j = 0; j < ids.size(); ++j) std::cout << (j ? " " : "") << ids[j];
    std::cout << "\n";
  }
  return 0;
}
