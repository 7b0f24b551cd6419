// Target size, PIL-exact bicubic resampling, and 48x48 patches (steps 2-4 of image.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "preprocess/image.h"

namespace gemma {
namespace {

// PIL's bicubic (Keys' cubic convolution with a = -0.5), support 2.
double Bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

// 8-bit coefficients in fixed point with this many fractional bits, as PIL computes them, so
// that results are bit-identical to Image.resize(..., Image.BICUBIC).
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int taps = 0;                 // Per output sample.
  std::vector<int> first;       // First input index per output sample.
  std::vector<int> count;       // Inputs used per output sample.
  std::vector<int32_t> weights;  // [out_size][taps], fixed point.
};

Coefficients ComputeCoefficients(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 2.0 * filter_scale;
  Coefficients c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> k(c.taps);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const double inverse_scale = 1.0 / filter_scale;
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double total = 0;
    for (int i = 0; i < n; ++i) {
      k[i] = Bicubic((i + lo - center + 0.5) * inverse_scale);
      total += k[i];
    }
    for (int i = 0; i < n; ++i) {
      const double w = total != 0 ? k[i] / total : k[i];
      c.weights[static_cast<size_t>(o) * c.taps + i] =
          static_cast<int32_t>(w < 0 ? std::trunc(-0.5 + w * (1 << kPrecisionBits))
                                     : std::trunc(0.5 + w * (1 << kPrecisionBits)));
    }
    c.first[o] = lo;
    c.count[o] = n;
  }
  return c;
}

uint8_t Clip8(int32_t value) {
  if (value >= (1 << kPrecisionBits << 8)) return 255;
  if (value <= 0) return 0;
  return static_cast<uint8_t>(value >> kPrecisionBits);
}

RgbImage ResizeHorizontal(const RgbImage& in, int width) {
  const Coefficients c = ComputeCoefficients(in.width, width);
  RgbImage out;
  out.width = width;
  out.height = in.height;
  out.pixels.resize(static_cast<size_t>(width) * in.height * 3);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.pixels.data() + static_cast<size_t>(y) * in.width * 3;
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      const int32_t* w = c.weights.data() + static_cast<size_t>(x) * c.taps;
      int32_t sum[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1),
                        1 << (kPrecisionBits - 1)};
      const uint8_t* src = row + static_cast<size_t>(c.first[x]) * 3;
      for (int i = 0; i < c.count[x]; ++i) {
        sum[0] += src[3 * i] * w[i];
        sum[1] += src[3 * i + 1] * w[i];
        sum[2] += src[3 * i + 2] * w[i];
      }
      for (int ch = 0; ch < 3; ++ch) dst[3 * x + ch] = Clip8(sum[ch]);
    }
  }
  return out;
}

RgbImage ResizeVertical(const RgbImage& in, int height) {
  const Coefficients c = ComputeCoefficients(in.height, height);
  RgbImage out;
  out.width = in.width;
  out.height = height;
  const size_t stride = static_cast<size_t>(in.width) * 3;
  out.pixels.resize(stride * height);
  std::vector<int32_t> sum(stride);
  for (int y = 0; y < height; ++y) {
    std::fill(sum.begin(), sum.end(), 1 << (kPrecisionBits - 1));
    const int32_t* w = c.weights.data() + static_cast<size_t>(y) * c.taps;
    for (int i = 0; i < c.count[y]; ++i) {
      const uint8_t* src = in.pixels.data() + static_cast<size_t>(c.first[y] + i) * stride;
      for (size_t j = 0; j < stride; ++j) sum[j] += src[j] * w[i];
    }
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * stride;
    for (size_t j = 0; j < stride; ++j) dst[j] = Clip8(sum[j]);
  }
  return out;
}

}  // namespace

absl::StatusOr<ResizeTarget> TargetSize(int width, int height, int max_soft_tokens) {
  if (width <= 0 || height <= 0 || max_soft_tokens <= 0) {
    return absl::InvalidArgumentError("empty image or soft-token budget");
  }
  constexpr int kPatch = 16, kPool = 3, kSide = kPatch * kPool;
  const int64_t max_patches = static_cast<int64_t>(max_soft_tokens) * kPool * kPool;
  const double factor = std::sqrt(static_cast<double>(max_patches * kPatch * kPatch) /
                                  (static_cast<double>(height) * width));
  int target_height = static_cast<int>(std::floor(factor * height / kSide)) * kSide;
  int target_width = static_cast<int>(std::floor(factor * width / kSide)) * kSide;
  const int max_side = static_cast<int>(max_patches / (kPool * kPool)) * kSide;
  if (target_height == 0 && target_width == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(width, "x", height, " cannot be resized to a multiple of 48 pixels"));
  }
  if (target_height == 0) {
    target_height = kSide;
    target_width = std::min((width / height) * kSide, max_side);
  } else if (target_width == 0) {
    target_width = kSide;
    target_height = std::min((height / width) * kSide, max_side);
  }
  return ResizeTarget{target_width, target_height};
}

RgbImage ResizeBicubic(const RgbImage& image, int width, int height) {
  // PIL runs the horizontal pass first, then the vertical one, each only when the size changes.
  RgbImage result = image.width != width ? ResizeHorizontal(image, width) : image;
  if (image.height != height) result = ResizeVertical(result, height);
  return result;
}

std::vector<uint8_t> Patchify(const RgbImage& image) {
  const int grid_width = image.width / kModelPatchSize;
  const int grid_height = image.height / kModelPatchSize;
  std::vector<uint8_t> patches(static_cast<size_t>(grid_width) * grid_height * kPatchValues);
  constexpr size_t kRowBytes = kModelPatchSize * 3;
  uint8_t* out = patches.data();
  for (int gy = 0; gy < grid_height; ++gy) {
    for (int gx = 0; gx < grid_width; ++gx) {
      for (int y = 0; y < kModelPatchSize; ++y) {
        const size_t row = static_cast<size_t>(gy * kModelPatchSize + y) * image.width;
        std::memcpy(out, image.pixels.data() + (row + gx * kModelPatchSize) * 3, kRowBytes);
        out += kRowBytes;
      }
    }
  }
  return patches;
}

absl::StatusOr<ImagePatches> PreprocessImage(absl::string_view bytes, absl::string_view mime_type,
                                             int max_soft_tokens, const ImageLimits& limits) {
  if (max_soft_tokens < kMinSoftTokens || max_soft_tokens > kMaxSoftTokens) {
    return absl::InvalidArgumentError(absl::StrCat("max_soft_tokens ", max_soft_tokens,
                                                   " is outside [", kMinSoftTokens, ", ",
                                                   kMaxSoftTokens, "]"));
  }
  absl::StatusOr<RgbImage> image = DecodeImage(bytes, mime_type, limits);
  if (!image.ok()) return image.status();
  absl::StatusOr<ResizeTarget> target = TargetSize(image->width, image->height, max_soft_tokens);
  if (!target.ok()) return target.status();
  ImagePatches result;
  result.source_width = image->width;
  result.source_height = image->height;
  result.grid_width = target->width / kModelPatchSize;
  result.grid_height = target->height / kModelPatchSize;
  result.patches = Patchify(ResizeBicubic(*image, target->width, target->height));
  return result;
}

}  // namespace gemma
