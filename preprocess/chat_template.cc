#include "preprocess/chat_template.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace gemma {
namespace {

using Json = nlohmann::ordered_json;
using v1::ChatMessage;
using v1::ContentPart;
using v1::Role;

constexpr absl::string_view kQuote = "<|\"|>";  // Gemma 4's string delimiter token.

// ---- Jinja/Python value semantics the templates rely on ----

// Python's str.strip(): Unicode whitespace (str.isspace) at both ends.
absl::string_view PyStrip(absl::string_view s) {
  auto space_at = [&](size_t i, size_t* length) {
    const unsigned char c = s[i];
    *length = 1;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
    auto bytes = [&](absl::string_view seq) {
      return s.substr(i, seq.size()) == seq ? (*length = seq.size(), true) : false;
    };
    if (c == 0xC2) return bytes("\xC2\x85") || bytes("\xC2\xA0");
    if (c == 0xE1) return bytes("\xE1\x9A\x80");
    if (c == 0xE3) return bytes("\xE3\x80\x80");
    if (c == 0xE2) {
      if (i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
        const unsigned char third = s[i + 2];
        if ((third >= 0x80 && third <= 0x8A) || third == 0xA8 || third == 0xA9 || third == 0xAF) {
          *length = 3;
          return true;
        }
      }
      return bytes("\xE2\x81\x9F");
    }
    return false;
  };
  size_t begin = 0, length = 0;
  while (begin < s.size() && space_at(begin, &length)) begin += length;
  size_t end = s.size();
  while (end > begin) {
    // Step back to the start of the last character.
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!space_at(start, &length) || start + length != end) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// Python's repr(float): shortest round-trip digits, exponent form outside [1e-4, 1e16).
std::string PyFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*e", precision - 1, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  const bool negative = text[0] == '-';
  if (negative) text.erase(0, 1);
  const size_t e = text.find('e');
  const int exponent = std::atoi(text.c_str() + e + 1);
  std::string digits = text.substr(0, 1) + (e > 2 ? text.substr(2, e - 2) : "");
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string result;
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      const size_t integer_digits = exponent + 1;
      if (digits.size() <= integer_digits) {
        result = digits + std::string(integer_digits - digits.size(), '0') + ".0";
      } else {
        result = digits.substr(0, integer_digits) + "." + digits.substr(integer_digits);
      }
    } else {
      result = "0." + std::string(-exponent - 1, '0') + digits;
    }
  } else {
    result = digits.substr(0, 1);
    if (digits.size() > 1) result += "." + digits.substr(1);
    char exponent_text[8];
    std::snprintf(exponent_text, sizeof(exponent_text), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    result += exponent_text;
  }
  return negative ? "-" + result : result;
}

std::string PyRepr(const Json& value);

// What Jinja prints for {{ value }}: Python's str().
std::string PyStr(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return value.get<std::string>();
    case Json::value_t::boolean:
      return value.get<bool>() ? "True" : "False";
    case Json::value_t::null:
      return "None";
    case Json::value_t::number_integer:
      return std::to_string(value.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(value.get<uint64_t>());
    case Json::value_t::number_float:
      return PyFloat(value.get<double>());
    default:
      return PyRepr(value);
  }
}

std::string PyRepr(const Json& value) {
  if (value.is_string()) return "'" + value.get<std::string>() + "'";
  if (value.is_array()) {
    std::vector<std::string> items;
    for (const Json& item : value) items.push_back(PyRepr(item));
    return "[" + absl::StrJoin(items, ", ") + "]";
  }
  if (value.is_object()) {
    std::vector<std::string> items;
    for (auto it = value.begin(); it != value.end(); ++it) {
      items.push_back("'" + it.key() + "': " + PyRepr(it.value()));
    }
    return "{" + absl::StrJoin(items, ", ") + "}";
  }
  return PyStr(value);
}

bool Truthy(const Json* value) {
  if (value == nullptr || value->is_null()) return false;
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_number()) return value->get<double>() != 0;
  if (value->is_string()) return !value->get_ref<const std::string&>().empty();
  return !value->empty();
}

// value['key'] in Jinja: undefined (nullptr) unless value is a mapping holding key.
const Json* Get(const Json& value, const char* key) {
  if (!value.is_object()) return nullptr;
  auto it = value.find(key);
  return it == value.end() ? nullptr : &*it;
}

// Jinja's dictsort: by key, case-insensitively, stable.
std::vector<std::pair<std::string, const Json*>> DictSort(const Json& mapping) {
  std::vector<std::pair<std::string, const Json*>> items;
  for (auto it = mapping.begin(); it != mapping.end(); ++it) items.emplace_back(it.key(), &*it);
  std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return absl::AsciiStrToLower(a.first) < absl::AsciiStrToLower(b.first);
  });
  return items;
}

// value | upper (undefined -> "").
std::string UpperOf(const Json* value) {
  return value == nullptr ? "" : absl::AsciiStrToUpper(PyStr(*value));
}

// ---- Output with markup ranges ----

class Writer {
 public:
  void Markup(absl::string_view text) {
    if (text.empty()) return;
    const size_t begin = prompt_.text.size();
    prompt_.text.append(text.data(), text.size());
    if (!prompt_.markup.empty() && prompt_.markup.back().second == begin) {
      prompt_.markup.back().second = prompt_.text.size();
    } else {
      prompt_.markup.emplace_back(begin, prompt_.text.size());
    }
  }
  void Content(absl::string_view text) { prompt_.text.append(text.data(), text.size()); }
  void Media(MediaPlaceholder::Kind kind, int message, int part) {
    Markup(kind == MediaPlaceholder::Kind::kImage ? "<|image|>" : "<|audio|>");
    prompt_.media.push_back({kind, message, part});
  }
  size_t size() const { return prompt_.text.size(); }
  void Truncate(size_t size) {
    prompt_.text.resize(size);
    while (!prompt_.markup.empty() && prompt_.markup.back().first >= size) prompt_.markup.pop_back();
    if (!prompt_.markup.empty()) {
      prompt_.markup.back().second = std::min(prompt_.markup.back().second, size);
    }
  }
  RenderedPrompt Take() { return std::move(prompt_); }

 private:
  RenderedPrompt prompt_;
};

// ---- Gemma 4's value formatting macros ----

// format_argument(argument, escape_keys)
void FormatArgument(Writer& w, const Json& value, bool escape_keys) {
  if (value.is_string()) {
    w.Markup(kQuote);
    w.Content(value.get_ref<const std::string&>());
    w.Markup(kQuote);
  } else if (value.is_boolean()) {
    w.Content(value.get<bool>() ? "true" : "false");
  } else if (value.is_object()) {
    w.Markup("{");
    bool first = true;
    for (const auto& [key, item] : DictSort(value)) {
      if (!first) w.Markup(",");
      first = false;
      if (escape_keys) w.Markup(kQuote);
      w.Content(key);
      if (escape_keys) w.Markup(kQuote);
      w.Markup(":");
      FormatArgument(w, *item, escape_keys);
    }
    w.Markup("}");
  } else if (value.is_array()) {
    w.Markup("[");
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) w.Markup(",");
      FormatArgument(w, value[i], escape_keys);
    }
    w.Markup("]");
  } else {
    w.Content(PyStr(value));
  }
}

// required:[<|"|>a<|"|>,<|"|>b<|"|>] (Jinja iterates whatever it is given).
void FormatRequired(Writer& w, const Json& required) {
  w.Markup("required:[");
  std::vector<std::string> items;
  if (required.is_string()) {
    for (char c : required.get<std::string>()) items.push_back(std::string(1, c));
  } else if (required.is_object()) {
    for (auto it = required.begin(); it != required.end(); ++it) items.push_back(it.key());
  } else {
    for (const Json& item : required) items.push_back(PyStr(item));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    w.Markup(kQuote);
    w.Content(items[i]);
    w.Markup(kQuote);
    if (i + 1 < items.size()) w.Markup(",");
  }
  w.Markup("]");
}

// format_parameters(properties, required)
void FormatParameters(Writer& w, const Json& properties) {
  static const char* kStandardKeys[] = {"description", "type", "properties", "required",
                                        "nullable"};
  bool found_first = false;
  for (const auto& [key, value_ptr] : DictSort(properties)) {
    const Json& value = *value_ptr;
    if (std::find(std::begin(kStandardKeys), std::end(kStandardKeys), key) !=
        std::end(kStandardKeys)) {
      continue;
    }
    if (found_first) w.Markup(",");
    found_first = true;
    w.Content(key);
    w.Markup(":{");
    bool add_comma = false;
    auto comma = [&] {
      if (add_comma) w.Markup(",");
      add_comma = true;
    };
    if (const Json* description = Get(value, "description"); Truthy(description)) {
      w.Markup("description:");
      w.Markup(kQuote);
      w.Content(PyStr(*description));
      w.Markup(kQuote);
      add_comma = true;
    }
    const std::string type = UpperOf(Get(value, "type"));
    if (type == "STRING") {
      if (const Json* values = Get(value, "enum"); Truthy(values)) {
        comma();
        w.Markup("enum:");
        FormatArgument(w, *values, true);
      }
    } else if (type == "ARRAY") {
      const Json* items = Get(value, "items");
      if (items != nullptr && items->is_object() && !items->empty()) {
        comma();
        w.Markup("items:{");
        bool items_first = true;
        for (const auto& [item_key, item_value] : DictSort(*items)) {
          if (item_value->is_null()) continue;
          if (!items_first) w.Markup(",");
          items_first = false;
          if (item_key == "properties") {
            w.Markup("properties:{");
            if (item_value->is_object()) FormatParameters(w, *item_value);
            w.Markup("}");
          } else if (item_key == "required") {
            FormatRequired(w, *item_value);
          } else if (item_key == "type") {
            w.Markup("type:");
            if (item_value->is_string()) {
              FormatArgument(w, Json(absl::AsciiStrToUpper(item_value->get<std::string>())), true);
            } else {
              Json upper = Json::array();
              for (const Json& t : *item_value) upper.push_back(absl::AsciiStrToUpper(PyStr(t)));
              FormatArgument(w, upper, true);
            }
          } else {
            w.Content(item_key);
            w.Markup(":");
            FormatArgument(w, *item_value, true);
          }
        }
        w.Markup("}");
      }
    }
    if (Truthy(Get(value, "nullable"))) {
      comma();
      w.Markup("nullable:true");
    }
    if (type == "OBJECT") {
      const Json* nested = Get(value, "properties");
      if (nested != nullptr && nested->is_object()) {
        comma();
        w.Markup("properties:{");
        FormatParameters(w, *nested);
        w.Markup("}");
      } else if (value.is_object()) {
        comma();
        w.Markup("properties:{");
        FormatParameters(w, value);
        w.Markup("}");
      }
      if (const Json* required = Get(value, "required"); Truthy(required)) {
        comma();
        FormatRequired(w, *required);
      }
    }
    comma();
    w.Markup("type:");
    w.Markup(kQuote);
    w.Content(type);
    w.Markup(kQuote);
    w.Markup("}");
  }
}

// format_function_declaration(tool)
void FormatDeclaration(Writer& w, const v1::ToolDeclaration& tool, const Json& parameters) {
  w.Markup("declaration:");
  w.Content(tool.name());
  w.Markup("{description:");
  w.Markup(kQuote);
  w.Content(tool.description());
  w.Markup(kQuote);
  if (Truthy(&parameters)) {
    w.Markup(",parameters:{");
    if (const Json* properties = Get(parameters, "properties"); Truthy(properties)) {
      w.Markup("properties:{");
      FormatParameters(w, *properties);
      w.Markup("},");
    }
    if (const Json* required = Get(parameters, "required"); Truthy(required)) {
      FormatRequired(w, *required);
      w.Markup(",");
    }
    if (const Json* type = Get(parameters, "type"); Truthy(type)) {
      w.Markup("type:");
      w.Markup(kQuote);
      w.Content(UpperOf(type));
      w.Markup(kQuote);
      w.Markup("}");
    }
  }
  w.Markup("}");
}

// format_tool_response_block(tool_name, response)
void FormatToolResponse(Writer& w, const std::string& name, const Json& response) {
  w.Markup("<|tool_response>");
  w.Markup("response:");
  w.Content(name);
  if (response.is_object()) {
    w.Markup("{");
    bool first = true;
    for (const auto& [key, value] : DictSort(response)) {
      if (!first) w.Markup(",");
      first = false;
      w.Content(key);
      w.Markup(":");
      FormatArgument(w, *value, false);
    }
    w.Markup("}");
  } else {
    w.Markup("{value:");
    FormatArgument(w, response, false);
    w.Markup("}");
  }
  w.Markup("<tool_response|>");
}

// strip_thinking(text): drop every "<|channel>...<channel|>" thought, then trim.
std::string StripThinking(absl::string_view text) {
  std::string result;
  size_t start = 0;
  while (true) {
    const size_t close = text.find("<channel|>", start);
    const absl::string_view part =
        text.substr(start, close == absl::string_view::npos ? absl::string_view::npos : close - start);
    const size_t open = part.find("<|channel>");
    const absl::string_view kept = open == absl::string_view::npos ? part : part.substr(0, open);
    result.append(kept.data(), kept.size());
    if (close == absl::string_view::npos) break;
    start = close + 10;
  }
  return std::string(PyStrip(result));
}

// ---- Validation and conversion ----

std::string Where(int message) { return absl::StrCat("messages[", message, "]"); }
std::string Where(int message, int part) {
  return absl::StrCat("messages[", message, "].parts[", part, "]");
}

bool ValidToolName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<Json> ParseJson(absl::string_view text, const std::string& where) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not valid JSON"));
  }
  return value;
}

std::string TextOf(const ChatMessage& message) {
  std::string text;
  for (const ContentPart& part : message.parts()) {
    if (part.has_text()) text += part.text();
  }
  return text;
}

// Parsed JSON of one conversation, checked against what the templates can express.
struct ParsedChat {
  std::vector<Json> tool_parameters;              // Per ChatInput.tools (null: none).
  std::vector<std::vector<Json>> call_arguments;  // Per message, per tool call.
  std::vector<std::vector<Json>> response_content;
};

absl::StatusOr<ParsedChat> Validate(const v1::ChatInput& chat, ChatFormat format) {
  ParsedChat parsed;
  if (chat.messages().empty()) return absl::InvalidArgumentError("messages: at least one is needed");
  if (format == ChatFormat::kGemma3 && (chat.tools_size() > 0 || chat.enable_thinking())) {
    return absl::InvalidArgumentError(
        "tools and enable_thinking need a Gemma 4 vocabulary (this model's is Gemma 3)");
  }
  for (int t = 0; t < chat.tools_size(); ++t) {
    const v1::ToolDeclaration& tool = chat.tools(t);
    const std::string where = absl::StrCat("tools[", t, "]");
    if (!ValidToolName(tool.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: must match [A-Za-z0-9_.-]{1,64}"));
    }
    Json parameters;
    if (!tool.parameters_json_schema().empty()) {
      absl::StatusOr<Json> schema =
          ParseJson(tool.parameters_json_schema(), where + ".parameters_json_schema");
      if (!schema.ok()) return schema.status();
      if (!schema->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".parameters_json_schema: must be a JSON object"));
      }
      parameters = *std::move(schema);
    }
    parsed.tool_parameters.push_back(std::move(parameters));
  }
  parsed.call_arguments.resize(chat.messages_size());
  parsed.response_content.resize(chat.messages_size());
  bool tool_responses_allowed = false;  // Right after a model turn with tool calls.
  for (int m = 0; m < chat.messages_size(); ++m) {
    const ChatMessage& message = chat.messages(m);
    const Role role = message.role();
    if (role != v1::ROLE_SYSTEM && role != v1::ROLE_USER && role != v1::ROLE_MODEL &&
        role != v1::ROLE_TOOL) {
      return absl::InvalidArgumentError(absl::StrCat(Where(m), ".role: must be set"));
    }
    if (role == v1::ROLE_SYSTEM && m != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(m), ".role: a system message may only come first"));
    }
    for (int p = 0; p < message.parts_size(); ++p) {
      const ContentPart& part = message.parts(p);
      if (part.part_case() == ContentPart::PART_NOT_SET) {
        return absl::InvalidArgumentError(absl::StrCat(Where(m, p), ": empty part"));
      }
      if (!part.has_text() && role != v1::ROLE_USER) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(m, p), ": images and audio are allowed in user messages only"));
      }
      if (!part.has_text() && format == ChatFormat::kGemma3) {
        return absl::UnimplementedError(absl::StrCat(
            Where(m, p), ": images and audio need a Gemma 4 vocabulary (this model's is Gemma 3)"));
      }
    }
    if (message.tool_calls_size() > 0 && role != v1::ROLE_MODEL) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(m), ".tool_calls: only model messages make tool calls"));
    }
    if (message.tool_responses_size() > 0 && role != v1::ROLE_TOOL) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(m), ".tool_responses: only tool messages carry responses"));
    }
    if (format == ChatFormat::kGemma3 && (role == v1::ROLE_TOOL || message.tool_calls_size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(m), ": tool use needs a Gemma 4 vocabulary"));
    }
    for (int c = 0; c < message.tool_calls_size(); ++c) {
      const v1::ToolCall& call = message.tool_calls(c);
      const std::string where = absl::StrCat(Where(m), ".tool_calls[", c, "]");
      if (!ValidToolName(call.name())) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".name: must match [A-Za-z0-9_.-]{1,64}"));
      }
      Json arguments = Json::object();
      if (!call.arguments_json().empty()) {
        absl::StatusOr<Json> value = ParseJson(call.arguments_json(), where + ".arguments_json");
        if (!value.ok()) return value.status();
        if (!value->is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ".arguments_json: must be a JSON object"));
        }
        arguments = *std::move(value);
      }
      parsed.call_arguments[m].push_back(std::move(arguments));
    }
    if (role == v1::ROLE_TOOL) {
      if (!tool_responses_allowed) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(m), ": a tool message must follow a model message with tool_calls"));
      }
      if (message.parts_size() > 0 || message.tool_responses_size() == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(m), ": a tool message carries tool_responses and no parts"));
      }
      for (int r = 0; r < message.tool_responses_size(); ++r) {
        const std::string where = absl::StrCat(Where(m), ".tool_responses[", r, "].content_json");
        absl::StatusOr<Json> value = ParseJson(message.tool_responses(r).content_json(), where);
        if (!value.ok()) return value.status();
        parsed.response_content[m].push_back(*std::move(value));
      }
    } else {
      tool_responses_allowed = role == v1::ROLE_MODEL && message.tool_calls_size() > 0;
    }
  }
  const ChatMessage& last = chat.messages(chat.messages_size() - 1);
  if (chat.continue_final_message() &&
      (last.role() == v1::ROLE_TOOL || PyStrip(TextOf(last)).empty())) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(chat.messages_size() - 1),
        ": continue_final_message needs a final user or model message with text"));
  }
  return parsed;
}

void RenderContentParts(Writer& w, const ChatMessage& message, int index,
                        const char** prev_type) {
  for (int p = 0; p < message.parts_size(); ++p) {
    const ContentPart& part = message.parts(p);
    if (part.has_text()) {
      w.Content(PyStrip(part.text()));
    } else if (part.has_image()) {
      w.Media(MediaPlaceholder::Kind::kImage, index, p);
      *prev_type = "image";
    } else {
      w.Media(MediaPlaceholder::Kind::kAudio, index, p);
      *prev_type = "audio";
    }
  }
}

RenderedPrompt RenderGemma4(const v1::ChatInput& chat, const ParsedChat& parsed) {
  Writer w;
  const char* prev_type = "";  // ns.prev_message_type
  const auto& messages = chat.messages();
  const bool has_system = messages[0].role() == v1::ROLE_SYSTEM;
  w.Markup("<bos>");
  if (chat.enable_thinking() || chat.tools_size() > 0 || has_system) {
    w.Markup("<|turn>system\n");
    if (chat.enable_thinking()) {
      w.Markup("<|think|>\n");
      prev_type = "think";
    }
    if (has_system) w.Content(PyStrip(TextOf(messages[0])));
    for (int t = 0; t < chat.tools_size(); ++t) {
      w.Markup("<|tool>");
      FormatDeclaration(w, chat.tools(t), parsed.tool_parameters[t]);
      w.Markup("<tool|>");
      prev_type = "tool";
    }
    w.Markup("<turn|>\n");
  }
  const int first = has_system ? 1 : 0;
  const int count = messages.size();
  size_t final_content_end = 0;
  for (int m = first; m < count; ++m) {
    const ChatMessage& message = messages[m];
    if (message.role() == v1::ROLE_TOOL) continue;
    prev_type = "";
    const bool is_model = message.role() == v1::ROLE_MODEL;
    int previous = m - 1;
    while (previous >= first && messages[previous].role() == v1::ROLE_TOOL) --previous;
    const bool continue_model_turn =
        is_model && previous >= first && messages[previous].role() == v1::ROLE_MODEL;
    if (!continue_model_turn) w.Markup(is_model ? "<|turn>model\n" : "<|turn>user\n");
    for (int c = 0; c < message.tool_calls_size(); ++c) {
      w.Markup("<|tool_call>call:");
      w.Content(message.tool_calls(c).name());
      w.Markup("{");
      bool first_argument = true;
      for (const auto& [key, value] : DictSort(parsed.call_arguments[m][c])) {
        if (!first_argument) w.Markup(",");
        first_argument = false;
        w.Content(key);
        w.Markup(":");
        FormatArgument(w, *value, false);
      }
      w.Markup("}<tool_call|>");
      prev_type = "tool_call";
    }
    bool wrote_responses = false;
    if (message.tool_calls_size() > 0) {
      for (int k = m + 1; k < count && messages[k].role() == v1::ROLE_TOOL; ++k) {
        for (int r = 0; r < messages[k].tool_responses_size(); ++r) {
          const v1::ToolResponse& response = messages[k].tool_responses(r);
          // The name of the call with the same id (absent ids match each other), else the
          // response's own name, else "unknown".
          std::string name = response.name().empty() ? "unknown" : response.name();
          for (const v1::ToolCall& call : message.tool_calls()) {
            if (call.id() == response.tool_call_id()) name = call.name();
          }
          FormatToolResponse(w, name, parsed.response_content[k][r]);
          wrote_responses = true;
          prev_type = "tool_response";
        }
      }
    }
    const std::string text = TextOf(message);
    if (is_model) {
      w.Content(StripThinking(text));
    } else {
      RenderContentParts(w, message, m, &prev_type);
    }
    final_content_end = w.size();
    if (std::string(prev_type) == "tool_call" && !wrote_responses) {
      w.Markup("<|tool_response>");
    } else if (!(wrote_responses && text.empty())) {
      w.Markup("<turn|>\n");
    }
  }
  if (chat.continue_final_message()) {
    w.Truncate(final_content_end);
  } else if (std::string(prev_type) != "tool_response" && std::string(prev_type) != "tool_call") {
    w.Markup("<|turn>model\n");
    if (!chat.enable_thinking()) w.Markup("<|channel>thought\n<channel|>");
  }
  return w.Take();
}

absl::StatusOr<RenderedPrompt> RenderGemma3(const v1::ChatInput& chat) {
  Writer w;
  const auto& messages = chat.messages();
  const bool has_system = messages[0].role() == v1::ROLE_SYSTEM;
  w.Markup("<bos>");
  const int first = has_system ? 1 : 0;
  size_t final_content_end = 0;
  for (int m = first; m < messages.size(); ++m) {
    const ChatMessage& message = messages[m];
    const bool is_model = message.role() == v1::ROLE_MODEL;
    if (is_model != ((m - first) % 2 == 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(m), ".role: Gemma 3 turns must alternate user/model, starting with user"));
    }
    w.Markup(is_model ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
    if (m == first && has_system) {
      w.Content(TextOf(messages[0]));
      w.Markup("\n\n");
    }
    if (is_model) {
      w.Content(PyStrip(TextOf(message)));
    } else {
      const char* unused = "";
      RenderContentParts(w, message, m, &unused);
    }
    final_content_end = w.size();
    w.Markup("<end_of_turn>\n");
  }
  if (chat.continue_final_message()) {
    w.Truncate(final_content_end);
  } else {
    w.Markup("<start_of_turn>model\n");
  }
  return w.Take();
}

}  // namespace

absl::StatusOr<ChatFormat> ChatFormatFor(const Tokenizer& tokenizer) {
  if (tokenizer.PieceToId("<|turn>") >= 0) return ChatFormat::kGemma4;
  if (tokenizer.PieceToId("<start_of_turn>") >= 0) return ChatFormat::kGemma3;
  return absl::FailedPreconditionError(absl::StrCat(
      tokenizer.vocab().source, ": neither a Gemma 4 (<|turn>) nor a Gemma 3 vocabulary"));
}

absl::StatusOr<RenderedPrompt> RenderChat(const v1::ChatInput& chat, ChatFormat format) {
  absl::StatusOr<ParsedChat> parsed = Validate(chat, format);
  if (!parsed.ok()) return parsed.status();
  if (format == ChatFormat::kGemma3) return RenderGemma3(chat);
  return RenderGemma4(chat, *parsed);
}

std::vector<int32_t> TokenizePrompt(const Tokenizer& tokenizer, const RenderedPrompt& prompt) {
  std::vector<int32_t> ids;
  ids.reserve(prompt.text.size() / 3 + 8);
  tokenizer.EncodeMarkedAppend(prompt.text, prompt.markup, &ids);
  return ids;
}

}  // namespace gemma
