#include "preprocess/vocab.h"

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/io/gguf.h"
#include "nlohmann/json.hpp"

namespace gemma {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, what " " normalizes to.

absl::Status Unimplemented(const std::string& source, absl::string_view what, const Json& value) {
  return absl::UnimplementedError(absl::StrCat(source, ": ", what, " ", value.dump().substr(0, 200),
                                               " is not supported (Gemma's tokenizer is)"));
}

// Normalizer: Replace " " -> "▁", alone or as the only member of a Sequence.
absl::Status CheckNormalizer(const Json& normalizer, const std::string& source) {
  if (normalizer.is_null()) return Unimplemented(source, "normalizer", normalizer);
  if (normalizer.value("type", "") == "Sequence") {
    const Json& members = normalizer["normalizers"];
    if (!members.is_array() || members.size() != 1) {
      return Unimplemented(source, "normalizer", normalizer);
    }
    return CheckNormalizer(members[0], source);
  }
  const Json& pattern = normalizer.value("pattern", Json::object());
  if (normalizer.value("type", "") != "Replace" || pattern.value("String", "") != " " ||
      normalizer.value("content", "") != kSpaceMark) {
    return Unimplemented(source, "normalizer", normalizer);
  }
  return absl::OkStatus();
}

// Pre-tokenizer: none; Split on " " (a no-op once spaces are "▁"); or a split of "\n" runs.
absl::Status ReadPreTokenizer(const Json& pre, const std::string& source, bool* split_newlines) {
  *split_newlines = false;
  if (pre.is_null()) return absl::OkStatus();
  if (pre.value("type", "") == "Sequence") {
    for (const Json& member : pre["pretokenizers"]) {
      bool member_splits = false;
      absl::Status status = ReadPreTokenizer(member, source, &member_splits);
      if (!status.ok()) return status;
      *split_newlines |= member_splits;
    }
    return absl::OkStatus();
  }
  if (pre.value("type", "") == "Split") {
    const Json& pattern = pre.value("pattern", Json::object());
    if (pattern.value("String", "") == " ") return absl::OkStatus();
    const std::string regex = pattern.value("Regex", "");
    if (regex == "[^\\n]+|[\\n]+" || regex == "\\n+|[^\\n]+" || regex == "[\\n]+|[^\\n]+") {
      *split_newlines = true;
      return absl::OkStatus();
    }
  }
  return Unimplemented(source, "pre_tokenizer", pre);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Fills the id lookups that every loader shares and checks the vocabulary is complete.
absl::Status Finish(Vocab* vocab) {
  auto find = [vocab](absl::string_view piece) -> int32_t {
    for (int32_t id = 0; id < vocab->size() && id < 4096; ++id) {
      if (vocab->pieces[id] == piece) return id;
    }
    return -1;
  };
  if (vocab->bos_id < 0) vocab->bos_id = find("<bos>");
  if (vocab->eos_id < 0) vocab->eos_id = find("<eos>");
  if (vocab->pad_id < 0) vocab->pad_id = find("<pad>");
  if (vocab->unk_id < 0) vocab->unk_id = find("<unk>");
  for (int32_t* id : {&vocab->bos_id, &vocab->eos_id, &vocab->pad_id, &vocab->unk_id}) {
    if (*id >= vocab->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab->source, ": special token id ", *id, " is out of range"));
    }
  }
  if (vocab->bos_id < 0) {
    return absl::InvalidArgumentError(absl::StrCat(vocab->source, ": no <bos> token"));
  }
  return absl::OkStatus();
}

// A token id from JSON: an integer, not a float that would overflow the conversion.
absl::StatusOr<int64_t> IdOf(const Json& value, const std::string& source, absl::string_view where) {
  if (!value.is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, " is not an integer id"));
  }
  return value.get<int64_t>();
}

}  // namespace

int ByteFallbackValue(absl::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>' ||
      !absl::ascii_isxdigit(piece[3]) || !absl::ascii_isxdigit(piece[4])) {
    return -1;
  }
  auto hex = [](char c) { return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10; };
  return hex(piece[3]) * 16 + hex(piece[4]);
}

absl::StatusOr<Vocab> ParseTokenizerJson(absl::string_view text, const std::string& source) {
  Json root = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  Vocab vocab;
  vocab.source = source;
  try {
    const Json& model = root.value("model", Json::object());
    if (model.value("type", "") != "BPE") return Unimplemented(source, "model", model.value("type", Json()));
    if (!model.value("byte_fallback", false)) {
      return Unimplemented(source, "BPE without byte_fallback", model.value("byte_fallback", Json()));
    }
    if (model.value("ignore_merges", false)) return Unimplemented(source, "ignore_merges", true);
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(key) && !model[key].is_null() && model[key] != "") {
        return Unimplemented(source, key, model[key]);
      }
    }
    absl::Status status = CheckNormalizer(root.value("normalizer", Json()), source);
    if (!status.ok()) return status;
    status = ReadPreTokenizer(root.value("pre_tokenizer", Json()), source, &vocab.split_newlines);
    if (!status.ok()) return status;

    const Json& pieces = model.at("vocab");
    if (!pieces.is_object() || pieces.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": model.vocab is not a map"));
    }
    const size_t count = pieces.size();
    vocab.pieces.resize(count);
    vocab.types.assign(count, TokenType::kUnused);
    std::vector<bool> seen(count, false);
    for (auto it = pieces.begin(); it != pieces.end(); ++it) {
      absl::StatusOr<int64_t> parsed_id = IdOf(it.value(), source, "model.vocab[\"" + it.key() + "\"]");
      if (!parsed_id.ok()) return parsed_id.status();
      const int64_t id = *parsed_id;
      if (id < 0 || static_cast<size_t>(id) >= count || seen[id]) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": model.vocab[\"", it.key(),
                                                       "\"] = ", id, " is out of range or repeated"));
      }
      seen[id] = true;
      vocab.pieces[id] = it.key();
      vocab.types[id] = ByteFallbackValue(it.key()) >= 0 ? TokenType::kByte : TokenType::kNormal;
    }
    const std::string unk = model.value("unk_token", Json("")).is_string()
                                ? model.value("unk_token", std::string())
                                : std::string();
    for (const Json& added : root.value("added_tokens", Json::array())) {
      absl::StatusOr<int64_t> parsed_id = IdOf(added.at("id"), source, "added_tokens[].id");
      if (!parsed_id.ok()) return parsed_id.status();
      const int64_t id = *parsed_id;
      const std::string content = added.at("content").get<std::string>();
      // Added tokens may extend the model's vocabulary, one id after the other.
      if (id >= 0 && static_cast<size_t>(id) == vocab.pieces.size()) {
        vocab.pieces.push_back(content);
        vocab.types.push_back(TokenType::kUserDefined);
      }
      if (id < 0 || static_cast<size_t>(id) >= vocab.pieces.size() || vocab.pieces[id] != content) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": added token \"", content, "\" (id ", id, ") does not match model.vocab"));
      }
      if (added.value("lstrip", false) || added.value("rstrip", false) ||
          added.value("single_word", false) || added.value("normalized", false)) {
        return Unimplemented(source, "added token options", added);
      }
      vocab.types[id] = added.value("special", false) ? TokenType::kControl : TokenType::kUserDefined;
      if (content == unk) vocab.unk_id = static_cast<int32_t>(id);
    }

    const Json& merges = model.at("merges");
    vocab.merges.reserve(merges.size());
    for (const Json& merge : merges) {
      if (merge.is_array() && merge.size() == 2) {
        vocab.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else if (merge.is_string()) {
        const std::string line = merge.get<std::string>();
        const size_t space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": merge \"", line, "\" is not two pieces"));
        }
        vocab.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      } else {
        return absl::InvalidArgumentError(absl::StrCat(source, ": merge ", merge.dump(), " malformed"));
      }
    }
    const Json& post = root.value("post_processor", Json());
    vocab.add_bos = post.is_object() && absl::StrContains(post.dump(), "\"<bos>\"");
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed tokenizer.json: ", e.what()));
  }
  absl::Status status = Finish(&vocab);
  if (!status.ok()) return status;
  return vocab;
}

absl::StatusOr<Vocab> LoadTokenizerJson(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseTokenizerJson(*text, path);
}

absl::StatusOr<Vocab> LoadGgufVocab(const std::string& path) {
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(path);
  if (!gguf.ok()) return gguf.status();
  absl::StatusOr<std::string> model = gguf->GetString("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  if (*model != "gemma4") {
    return absl::UnimplementedError(absl::StrCat(
        path, ": tokenizer.ggml.model \"", *model,
        "\" is not supported (BPE with merges, \"gemma4\", is; use the model's tokenizer.json)"));
  }
  const GgufValue* tokens = gguf->Find("tokenizer.ggml.tokens");
  const GgufValue* types = gguf->Find("tokenizer.ggml.token_type");
  const GgufValue* merges = gguf->Find("tokenizer.ggml.merges");
  if (tokens == nullptr || tokens->type != GgufType::kString || tokens->strings.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tokenizer.ggml.tokens missing"));
  }
  if (types == nullptr || !types->is_integer() || types->ints.size() != tokens->strings.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": tokenizer.ggml.token_type missing or not one per token"));
  }
  if (merges == nullptr || merges->type != GgufType::kString) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tokenizer.ggml.merges missing"));
  }
  Vocab vocab;
  vocab.source = path;
  vocab.split_newlines = true;
  vocab.pieces = tokens->strings;
  vocab.types.resize(vocab.pieces.size());
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    const int64_t type = types->ints[i];
    if (type < 1 || type > 6) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": token ", i, " has unknown token type ", type));
    }
    vocab.types[i] = static_cast<TokenType>(type);
    // llama.cpp's converter marks a few of HF's special tokens (<|channel>, <|tool_call>, <|"|>,
    // ...) USER_DEFINED so that its chat parser sees them; in the HF tokenizer they are special.
    const std::string& piece = vocab.pieces[i];
    if (vocab.types[i] == TokenType::kUserDefined &&
        (absl::StartsWith(piece, "<|") || absl::EndsWith(piece, "|>"))) {
      vocab.types[i] = TokenType::kControl;
    }
  }
  vocab.merges.reserve(merges->strings.size());
  for (size_t i = 0; i < merges->strings.size(); ++i) {
    const std::string& line = merges->strings[i];
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tokenizer.ggml.merges[", i, "] is not two pieces"));
    }
    vocab.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  auto id_key = [&](const char* key, int32_t* id) {
    absl::StatusOr<int64_t> value = gguf->GetInt(key);
    if (value.ok()) *id = static_cast<int32_t>(*value);
  };
  id_key("tokenizer.ggml.bos_token_id", &vocab.bos_id);
  id_key("tokenizer.ggml.eos_token_id", &vocab.eos_id);
  id_key("tokenizer.ggml.unknown_token_id", &vocab.unk_id);
  id_key("tokenizer.ggml.padding_token_id", &vocab.pad_id);
  // Gemma 4 always starts with <bos> (llama.cpp overrides a false add_bos_token the same way).
  vocab.add_bos = true;
  absl::StatusOr<std::string> chat_template = gguf->GetString("tokenizer.chat_template");
  if (chat_template.ok()) vocab.chat_template = *chat_template;
  absl::Status status = Finish(&vocab);
  if (!status.ok()) return status;
  return vocab;
}

std::string TokenizerJson(const Vocab& vocab) {
  Json added = Json::array();
  Json pieces = Json::object();
  for (size_t id = 0; id < vocab.pieces.size(); ++id) {
    pieces[vocab.pieces[id]] = id;
    const TokenType type = vocab.types[id];
    if (type == TokenType::kControl || type == TokenType::kUserDefined ||
        type == TokenType::kUnknown) {
      added.push_back({{"id", id}, {"content", vocab.pieces[id]}, {"single_word", false},
                       {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                       {"special", type != TokenType::kUserDefined}});
    }
  }
  Json merges = Json::array();
  for (const auto& [left, right] : vocab.merges) merges.push_back({left, right});
  const std::string bos = vocab.bos_id >= 0 ? vocab.pieces[vocab.bos_id] : "<bos>";
  Json root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpaceMark}}},
      {"pre_tokenizer",
       vocab.split_newlines
           ? Json{{"type", "Split"},
                  {"pattern", {{"Regex", "[^\\n]+|[\\n]+"}}},
                  {"behavior", "Isolated"},
                  {"invert", false}}
           : Json(nullptr)},
      {"post_processor",
       vocab.add_bos ? Json{{"type", "TemplateProcessing"},
                            {"single", {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                            {"special_tokens",
                             {{bos, {{"id", bos}, {"ids", {vocab.bos_id}}, {"tokens", {bos}}}}}}}
                     : Json(nullptr)},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kSpaceMark}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", vocab.unk_id >= 0 ? Json(vocab.pieces[vocab.unk_id]) : Json(nullptr)},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", pieces},
        {"merges", merges}}}};
  return root.dump();
}

absl::StatusOr<Vocab> LoadVocab(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (S_ISDIR(info.st_mode)) return LoadTokenizerJson(path + "/tokenizer.json");
  if (absl::EndsWith(path, ".gguf")) return LoadGgufVocab(path);
  return LoadTokenizerJson(path);
}

}  // namespace gemma
