#include "preprocess/preprocessor.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gemma {
namespace {

using preprocess::v1::MediaItem;
using preprocess::v1::PreprocessResponse;

absl::Status Prefixed(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

bool IsSoftToken(int32_t id) {
  return id == kImageSoftId || id == kAudioSoftId || id == kVideoSoftId;
}

void SetCounts(PreprocessResponse* response) {
  v1::CountTokensResponse* counts = response->mutable_counts();
  uint32_t image = 0, audio = 0;
  for (const MediaItem& item : response->media()) {
    (item.kind() == preprocess::v1::MEDIA_KIND_IMAGE ? image : audio) += item.num_tokens();
  }
  counts->set_total_tokens(response->token_ids_size());
  counts->set_image_tokens(image);
  counts->set_audio_tokens(audio);
  counts->set_text_tokens(response->token_ids_size() - image - audio);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Preprocessor>> Preprocessor::Create(const Tokenizer& tokenizer,
                                                                   PreprocessorOptions options) {
  absl::StatusOr<ChatFormat> format = ChatFormatFor(tokenizer);
  if (!format.ok()) return format.status();
  if (options.default_image_soft_tokens < kMinSoftTokens ||
      options.default_image_soft_tokens > kMaxSoftTokens) {
    return absl::InvalidArgumentError(absl::StrCat("default image soft tokens ",
                                                   options.default_image_soft_tokens,
                                                   " is outside [70, 1120]"));
  }
  return std::unique_ptr<Preprocessor>(new Preprocessor(tokenizer, *format, options));
}

absl::Status Preprocessor::CheckTokenIds(absl::Span<const int32_t> ids,
                                         const std::string& where) const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer_.vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "[", i, "]: ", ids[i],
                                                     " is outside the vocabulary [0, ",
                                                     tokenizer_.vocab_size(), ")"));
    }
    if (IsSoftToken(ids[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "[", i, "]: ", ids[i],
                       " is a media soft token; send images and audio as chat parts"));
    }
  }
  return absl::OkStatus();
}

absl::Status Preprocessor::Preprocess(const v1::PromptInput& prompt,
                                      PreprocessResponse* response) const {
  response->Clear();
  switch (prompt.input_case()) {
    case v1::PromptInput::kChat: {
      absl::Status status = PreprocessChat(prompt.chat(), response);
      if (!status.ok()) return status;
      break;
    }
    case v1::PromptInput::kRaw: {
      const v1::RawPrompt& raw = prompt.raw();
      std::vector<int32_t> ids = tokenizer_.Encode(
          raw.text(), {.parse_special = raw.parse_special_tokens(), .add_bos = raw.add_bos()});
      absl::Status status = CheckTokenIds(ids, "prompt.raw.text tokens");
      if (!status.ok()) return status;
      response->mutable_token_ids()->Assign(ids.begin(), ids.end());
      if (options_.include_rendered_prompt) response->set_rendered_prompt(raw.text());
      break;
    }
    case v1::PromptInput::kTokenIds: {
      const auto& ids = prompt.token_ids().ids();
      absl::Status status = CheckTokenIds(ids, "prompt.token_ids.ids");
      if (!status.ok()) return status;
      *response->mutable_token_ids() = ids;
      break;
    }
    default:
      return absl::InvalidArgumentError("prompt: one of chat, raw or token_ids is required");
  }
  if (response->token_ids().empty()) return absl::InvalidArgumentError("prompt: no tokens");
  SetCounts(response);
  return absl::OkStatus();
}

absl::Status Preprocessor::PreprocessChat(const v1::ChatInput& chat,
                                          PreprocessResponse* response) const {
  int images = 0, audios = 0;
  for (int m = 0; m < chat.messages_size(); ++m) {
    for (int p = 0; p < chat.messages(m).parts_size(); ++p) {
      const v1::ContentPart& part = chat.messages(m).parts(p);
      images += part.has_image();
      audios += part.has_audio();
      if (part.has_image() && part.image().max_soft_tokens() != 0 &&
          (part.image().max_soft_tokens() < kMinSoftTokens ||
           part.image().max_soft_tokens() > kMaxSoftTokens)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "prompt.chat.messages[", m, "].parts[", p, "].image.max_soft_tokens: ",
            part.image().max_soft_tokens(), " is outside [70, 1120]"));
      }
    }
  }
  if (images > options_.max_images_per_request) {
    return absl::ResourceExhaustedError(absl::StrCat("prompt.chat: ", images,
                                                     " images exceed the limit of ",
                                                     options_.max_images_per_request));
  }
  if (audios > options_.max_audios_per_request) {
    return absl::ResourceExhaustedError(absl::StrCat("prompt.chat: ", audios,
                                                     " audio clips exceed the limit of ",
                                                     options_.max_audios_per_request));
  }
  absl::StatusOr<RenderedPrompt> rendered = RenderChat(chat, format_);
  if (!rendered.ok()) return Prefixed(rendered.status(), "prompt.chat");
  const std::vector<int32_t> ids = TokenizePrompt(tokenizer_, *rendered);

  auto* out_ids = response->mutable_token_ids();
  out_ids->Reserve(static_cast<int>(ids.size()));
  size_t next_media = 0;
  for (int32_t id : ids) {
    if (id != kImageSoftId && id != kAudioSoftId) {
      out_ids->Add(id);
      continue;
    }
    if (next_media >= rendered->media.size()) {
      return absl::InternalError("chat template produced more media placeholders than media");
    }
    const MediaPlaceholder& placeholder = rendered->media[next_media++];
    const v1::ContentPart& part =
        chat.messages(placeholder.message_index).parts(placeholder.part_index);
    const std::string where = absl::StrCat("prompt.chat.messages[", placeholder.message_index,
                                           "].parts[", placeholder.part_index, "]");
    MediaItem* item = response->add_media();
    preprocess::v1::Tensor* features = item->mutable_features();
    int num_tokens = 0;
    if (placeholder.kind == MediaPlaceholder::Kind::kImage) {
      const int budget = part.image().max_soft_tokens() != 0 ? part.image().max_soft_tokens()
                                                             : options_.default_image_soft_tokens;
      absl::StatusOr<ImagePatches> image =
          PreprocessImage(part.image().data(), part.image().mime_type(), budget, options_.image);
      if (!image.ok()) return Prefixed(image.status(), where + ".image");
      num_tokens = image->grid_width * image->grid_height;
      item->set_kind(preprocess::v1::MEDIA_KIND_IMAGE);
      item->set_grid_width(image->grid_width);
      item->set_grid_height(image->grid_height);
      item->set_source_width(image->source_width);
      item->set_source_height(image->source_height);
      features->set_dtype(preprocess::v1::TENSOR_DTYPE_UINT8);
      features->add_shape(num_tokens);
      features->add_shape(kPatchValues);
      features->set_data(image->patches.data(), image->patches.size());
    } else {
      absl::StatusOr<AudioFrames> audio =
          PreprocessAudio(part.audio().data(), part.audio().mime_type(), options_.audio);
      if (!audio.ok()) return Prefixed(audio.status(), where + ".audio");
      num_tokens = audio->num_frames;
      item->set_kind(preprocess::v1::MEDIA_KIND_AUDIO);
      item->set_audio_samples(static_cast<uint32_t>(audio->samples));
      features->set_dtype(preprocess::v1::TENSOR_DTYPE_FLOAT32);
      features->add_shape(num_tokens);
      features->add_shape(kAudioFrameSamples);
      // Little-endian float32, the host order on every platform we build for.
      features->set_data(reinterpret_cast<const char*>(audio->frames.data()),
                         audio->frames.size() * sizeof(float));
    }
    const bool is_image = placeholder.kind == MediaPlaceholder::Kind::kImage;
    out_ids->Add(is_image ? kImageBeginId : kAudioBeginId);
    item->set_token_offset(out_ids->size());
    item->set_num_tokens(num_tokens);
    for (int i = 0; i < num_tokens; ++i) out_ids->Add(is_image ? kImageSoftId : kAudioSoftId);
    out_ids->Add(is_image ? kImageEndId : kAudioEndId);
  }
  if (next_media != rendered->media.size()) {
    return absl::InternalError("chat template produced fewer media placeholders than media");
  }
  if (options_.include_rendered_prompt) response->set_rendered_prompt(rendered->text);
  return absl::OkStatus();
}

absl::Status Preprocessor::CountTokens(const v1::PromptInput& prompt,
                                       v1::CountTokensResponse* response) const {
  PreprocessResponse preprocessed;
  absl::Status status = Preprocess(prompt, &preprocessed);
  if (!status.ok()) return status;
  *response = preprocessed.counts();
  return absl::OkStatus();
}

absl::Status Preprocessor::Tokenize(const v1::TokenizeRequest& request,
                                    v1::TokenizeResponse* response) const {
  std::vector<int32_t> ids = tokenizer_.Encode(
      request.text(), {.parse_special = request.parse_special_tokens(), .add_bos = request.add_bos()});
  response->mutable_token_ids()->Assign(ids.begin(), ids.end());
  if (request.return_pieces()) {
    for (int32_t id : ids) response->add_pieces(tokenizer_.vocab().pieces[id]);
  }
  return absl::OkStatus();
}

absl::Status Preprocessor::Detokenize(const preprocess::v1::DetokenizeRequest& request,
                                      preprocess::v1::DetokenizeResponse* response) const {
  for (int i = 0; i < request.token_ids_size(); ++i) {
    const int32_t id = request.token_ids(i);
    if (id < 0 || id >= tokenizer_.vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("token_ids[", i, "]: ", id,
                                                     " is outside the vocabulary [0, ",
                                                     tokenizer_.vocab_size(), ")"));
    }
  }
  response->set_text(tokenizer_.Decode(request.token_ids(), request.skip_special_tokens()));
  return absl::OkStatus();
}

}  // namespace gemma
