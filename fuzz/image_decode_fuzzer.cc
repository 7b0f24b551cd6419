// PNG / JPEG / WebP decoding and the rest of the image pipeline must refuse bad input with a
// status. The pixel limit is lowered so each input stays fast.
#include <cstddef>
#include <cstdint>

#include "preprocess/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gemma::ImageLimits limits;
  limits.max_pixels = 1 << 20;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gemma::ImagePatches> patches = gemma::PreprocessImage(bytes, "", 70, limits);
  if (patches.ok() &&
      patches->patches.size() != static_cast<size_t>(patches->grid_width) *
                                     patches->grid_height * gemma::kPatchValues) {
    __builtin_trap();
  }
  gemma::ExifOrientation(bytes);
  return 0;
}
