// The Gemma chat templates, rendered natively (no Jinja at run time).
//
// Gemma 4 (vocabularies with <|turn>): the official template (chat_template.jinja of the Gemma 4
// checkpoints) for system/user/model turns, thinking on/off, tool declarations, tool calls and
// tool responses, images and audio. Gemma 3 (vocabularies with <start_of_turn>): its template,
// text only (Gemma 3 has no tool format; its images are not this model's).
// tests/chat_template_parity renders the same conversations with Jinja2 (what Hugging Face
// apply_chat_template runs) and requires identical text.
//
// Mapping from gemma.v1.ChatInput to the template's messages:
//   system/user text parts  -> content parts, each trimmed by the template; the system turn's
//                              text is the concatenation of its text parts;
//   images / audio           -> one <|image|> / <|audio|> placeholder each (user turns only),
//                              expanded later to <|image> + N x <|image|> + <image|>;
//   model turns              -> content = their text with thought channels stripped, tool_calls
//                              with arguments parsed from JSON objects;
//   tool messages            -> Gemma's native tool_responses of the model turn they follow
//                              (which must have made tool calls): {name, response} with the
//                              response parsed from JSON (an object renders as key:value pairs,
//                              anything else as value:...), the name taken from the call with
//                              the same id (absent ids match), else the response's, else
//                              "unknown". (The template's OpenAI-style path, role "tool", fails
//                              in Jinja2 on object content: a dict passes `is sequence`.)
// JSON numbers render as Python's Jinja would print them (ints as ints, floats shortest
// round-trip, e.g. 1.0, 0.25), null as None.
//
// Security: text that came from the request is marked as content; special-token strings are
// parsed only in template markup (see RenderedPrompt::markup).
#ifndef GEMMA_PREPROCESS_CHAT_TEMPLATE_H_
#define GEMMA_PREPROCESS_CHAT_TEMPLATE_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gemma/v1/content.pb.h"
#include "preprocess/tokenizer.h"

namespace gemma {

enum class ChatFormat { kGemma4, kGemma3 };

// Gemma 4 when the vocabulary has <|turn>, Gemma 3 when it has <start_of_turn>;
// FAILED_PRECONDITION otherwise.
absl::StatusOr<ChatFormat> ChatFormatFor(const Tokenizer& tokenizer);

struct MediaPlaceholder {
  enum class Kind { kImage, kAudio } kind;
  int message_index = 0;
  int part_index = 0;
};

struct RenderedPrompt {
  std::string text;  // Starts with "<bos>".
  // Byte ranges [begin, end) of template markup, sorted and disjoint. Only there may special
  // tokens be recognized; everything else came from the request.
  std::vector<std::pair<size_t, size_t>> markup;
  std::vector<MediaPlaceholder> media;  // In text order, one per placeholder token.
};

// INVALID_ARGUMENT naming the offending part ("messages[2].parts[0]: ...") for conversations the
// template cannot express.
absl::StatusOr<RenderedPrompt> RenderChat(const v1::ChatInput& chat, ChatFormat format);

// Tokenizes a rendered prompt: special tokens are matched only inside markup ranges; BPE runs
// over the text as a whole, as it would over the plain rendered string.
std::vector<int32_t> TokenizePrompt(const Tokenizer& tokenizer, const RenderedPrompt& prompt);

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_CHAT_TEMPLATE_H_
