// Turns a prompt (chat, raw text or token ids) into what the workers consume: token ids with
// media placeholders expanded, and each image's patches / each audio clip's frames.
//
// Media expansion: the template's single <|image|> (<|audio|>) per item becomes
// <|image> + N x <|image|> + <image|> (<|audio> + M x <|audio|> + <audio|>), N = the image's
// 48x48 patches, M = its 640-sample frames; MediaItem.token_offset is the first soft token.
// Raw prompts and token ids cannot carry media, so soft-token ids are refused there.
//
// Errors name the message part: INVALID_ARGUMENT for malformed input
// ("prompt.chat.messages[1].parts[2].image: PNG: ..."), RESOURCE_EXHAUSTED for limits.
// Thread-safe: const methods, no mutable state.
#ifndef GEMMA_PREPROCESS_PREPROCESSOR_H_
#define GEMMA_PREPROCESS_PREPROCESSOR_H_

#include "absl/status/status.h"
#include "gemma/preprocess/v1/preprocess.pb.h"
#include "preprocess/audio.h"
#include "preprocess/chat_template.h"
#include "preprocess/image.h"
#include "preprocess/tokenizer.h"

namespace gemma {

// Media token ids of Gemma 4 (gemma4-architecture.md 4.1).
inline constexpr int32_t kImageBeginId = 255999;
inline constexpr int32_t kAudioBeginId = 256000;
inline constexpr int32_t kImageSoftId = 258880;
inline constexpr int32_t kAudioSoftId = 258881;
inline constexpr int32_t kImageEndId = 258882;
inline constexpr int32_t kAudioEndId = 258883;
inline constexpr int32_t kVideoSoftId = 258884;

struct PreprocessorOptions {
  ImageLimits image;
  AudioLimits audio;
  int max_images_per_request = 16;
  int max_audios_per_request = 8;
  int default_image_soft_tokens = kDefaultSoftTokens;
  bool include_rendered_prompt = false;  // Fill PreprocessResponse.rendered_prompt (debugging).
};

class Preprocessor {
 public:
  // `tokenizer` must outlive this object.
  static absl::StatusOr<std::unique_ptr<Preprocessor>> Create(const Tokenizer& tokenizer,
                                                              PreprocessorOptions options);

  absl::Status Preprocess(const v1::PromptInput& prompt,
                          preprocess::v1::PreprocessResponse* response) const;
  absl::Status CountTokens(const v1::PromptInput& prompt, v1::CountTokensResponse* response) const;
  absl::Status Tokenize(const v1::TokenizeRequest& request, v1::TokenizeResponse* response) const;
  absl::Status Detokenize(const preprocess::v1::DetokenizeRequest& request,
                          preprocess::v1::DetokenizeResponse* response) const;

  const Tokenizer& tokenizer() const { return tokenizer_; }
  const PreprocessorOptions& options() const { return options_; }

 private:
  Preprocessor(const Tokenizer& tokenizer, ChatFormat format, PreprocessorOptions options)
      : tokenizer_(tokenizer), format_(format), options_(options) {}

  absl::Status PreprocessChat(const v1::ChatInput& chat,
                              preprocess::v1::PreprocessResponse* response) const;
  absl::Status CheckTokenIds(absl::Span<const int32_t> ids, const std::string& where) const;

  const Tokenizer& tokenizer_;
  const ChatFormat format_;
  const PreprocessorOptions options_;
};

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_PREPROCESSOR_H_
