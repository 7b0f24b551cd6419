// Images for Gemma 4's encoder-free embedder: decode (PNG, JPEG, WebP), EXIF orientation, RGB,
// aspect-preserving bicubic resize to a 48-pixel grid, and 48x48 patches.
//
// Pipeline (the Hugging Face Gemma 4 image processor's, PIL backend):
//   1. Decode; apply the EXIF orientation (PIL ImageOps.exif_transpose); convert to 8-bit RGB
//      (alpha is dropped, not composited, as PIL's convert("RGB") does; 16-bit samples keep
//      their high byte; palettes and gray expand).
//   2. Target size for a budget of S soft tokens (max_patches = 9 S patches of 16 px):
//        factor = sqrt(9 S * 16^2 / (h w)), h' = floor(factor h / 48) * 48, w' likewise;
//      a side that floors to 0 becomes 48 and the other min(floor(long / short) * 48, 48 S).
//      Small images are scaled up. (h'/48)(w'/48) <= S.
//   3. Resize with PIL's bicubic filter (Keys a = -0.5, support widened by the scale when
//      shrinking, i.e. antialiased), horizontal pass then vertical, each rounded to 8 bits.
//   4. Patches: row-major over the (w'/48) x (h'/48) grid, each 48x48x3 in (y, x, c) order,
//      values v / 255 (sent as UINT8 on the wire, see proto/gemma/preprocess/v1/media.proto).
#ifndef GEMMA_PREPROCESS_IMAGE_H_
#define GEMMA_PREPROCESS_IMAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gemma {

inline constexpr int kModelPatchSize = 48;
inline constexpr int kPatchValues = kModelPatchSize * kModelPatchSize * 3;  // 6912

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3, row-major, interleaved RGB.
};

struct ImageLimits {
  size_t max_bytes = 20 << 20;
  int64_t max_pixels = 40'000'000;  // Decoded width * height (decompression bombs).
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kWebp };
ImageFormat SniffImageFormat(absl::string_view bytes);

// INVALID_ARGUMENT for data that is not a supported image or is corrupt (the message says which
// format and why), RESOURCE_EXHAUSTED beyond the limits. `mime_type` may be empty; otherwise
// it must name a supported format that matches the data.
absl::StatusOr<RgbImage> DecodeImage(absl::string_view bytes, absl::string_view mime_type,
                                     const ImageLimits& limits);

// Step 2. INVALID_ARGUMENT if the image is too thin to reach 48 pixels on either side.
struct ResizeTarget {
  int width = 0, height = 0;
};
absl::StatusOr<ResizeTarget> TargetSize(int width, int height, int max_soft_tokens);

// Step 3 (any sizes >= 1).
RgbImage ResizeBicubic(const RgbImage& image, int width, int height);

// Step 4: grid_width * grid_height rows of kPatchValues bytes. Sizes must be multiples of 48.
std::vector<uint8_t> Patchify(const RgbImage& image);

struct ImagePatches {
  int grid_width = 0, grid_height = 0;      // In 48-pixel patches; num_tokens = their product.
  int source_width = 0, source_height = 0;  // Decoded (after EXIF orientation).
  std::vector<uint8_t> patches;             // grid_width * grid_height * kPatchValues.
};

inline constexpr int kMinSoftTokens = 70, kMaxSoftTokens = 1120, kDefaultSoftTokens = 280;

// Steps 1-4. max_soft_tokens must be in [kMinSoftTokens, kMaxSoftTokens].
absl::StatusOr<ImagePatches> PreprocessImage(absl::string_view bytes, absl::string_view mime_type,
                                             int max_soft_tokens, const ImageLimits& limits);

// Orientation 1..8 as EXIF defines it (1: as stored); other values leave the image alone.
RgbImage ApplyExifOrientation(RgbImage image, int orientation);

// The EXIF orientation in a TIFF-structured EXIF block ("Exif\0\0" prefix optional); 1 when
// absent or unreadable. Never reads outside `exif`.
int ExifOrientation(absl::string_view exif);

}  // namespace gemma

#endif  // GEMMA_PREPROCESS_IMAGE_H_
