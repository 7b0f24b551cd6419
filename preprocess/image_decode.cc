// Image decoding (PNG via libpng, JPEG via libjpeg-turbo, WebP via libwebp) and EXIF orientation.
// libpng and libjpeg report errors by longjmp: the functions that call them keep every object
// with a destructor outside the setjmp scope (in DecodeState) so nothing is skipped.
#include <png.h>
#include <setjmp.h>
#include <webp/decode.h>

#include <cstdio>
#include <cstring>

// jpeglib.h needs FILE and size_t first.
#include <jpeglib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "preprocess/image.h"

namespace gemma {
namespace {

absl::Status CheckPixels(int64_t width, int64_t height, const ImageLimits& limits,
                         absl::string_view format) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(format, ": empty image"));
  }
  if (width * height > limits.max_pixels) {
    return absl::ResourceExhaustedError(absl::StrCat(format, ": ", width, "x", height,
                                                     " pixels exceed the limit of ",
                                                     limits.max_pixels));
  }
  return absl::OkStatus();
}

// ---- PNG ----

struct PngState {
  absl::string_view data;
  size_t offset = 0;
  char message[256] = "";
};

void PngReadData(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (length > state->data.size() - state->offset) png_error(png, "truncated data");
  std::memcpy(out, state->data.data() + state->offset, length);
  state->offset += length;
}

void PngFail(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

void PngWarn(png_structp, png_const_charp) {}

absl::Status DecodePngInto(absl::string_view bytes, const ImageLimits& limits, RgbImage* image,
                           int* orientation) {
  PngState state;
  state.data = bytes;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, PngFail, PngWarn);
  if (png == nullptr) return absl::ResourceExhaustedError("PNG: out of memory");
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep>* rows = new std::vector<png_bytep>();
  absl::Status status;
  if (setjmp(png_jmpbuf(png))) {
    status = absl::InvalidArgumentError(absl::StrCat("PNG: ", state.message));
  } else {
    png_set_read_fn(png, &state, PngReadData);
    png_set_chunk_malloc_max(png, 8 << 20);  // Caps ancillary chunks (text bombs).
    png_read_info(png, info);
    const png_uint_32 width = png_get_image_width(png, info);
    const png_uint_32 height = png_get_image_height(png, info);
    status = CheckPixels(width, height, limits, "PNG");
    if (status.ok()) {
      const int color = png_get_color_type(png, info);
      if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
      if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
      if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
      }
      png_set_strip_alpha(png);  // Also drops the alpha a palette tRNS expands to.
      if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
      }
      png_set_interlace_handling(png);
      png_read_update_info(png, info);
      if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) {
        png_error(png, "unexpected row layout");
      }
      image->width = static_cast<int>(width);
      image->height = static_cast<int>(height);
      image->pixels.resize(static_cast<size_t>(width) * height * 3);
      rows->resize(height);
      for (png_uint_32 y = 0; y < height; ++y) {
        (*rows)[y] = image->pixels.data() + static_cast<size_t>(y) * width * 3;
      }
      png_read_image(png, rows->data());
      png_read_end(png, info);
      png_uint_32 exif_length = 0;
      png_bytep exif = nullptr;
      if (png_get_eXIf_1(png, info, &exif_length, &exif) != 0 && exif != nullptr) {
        *orientation = ExifOrientation(
            absl::string_view(reinterpret_cast<const char*>(exif), exif_length));
      }
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  delete rows;
  return status;
}

// ---- JPEG ----

struct JpegErrorManager {
  jpeg_error_mgr manager;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
};

void JpegFail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  longjmp(errors->jump, 1);
}

void JpegQuiet(j_common_ptr, int) {}

// PIL's CMYK -> RGB: r = (255 - c)(255 - k) / 255 with MULDIV255 rounding. Adobe files store
// CMYK inverted.
uint8_t Muldiv255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

absl::Status DecodeJpegInto(absl::string_view bytes, const ImageLimits& limits, RgbImage* image,
                            int* orientation) {
  jpeg_decompress_struct info;
  JpegErrorManager errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = JpegFail;
  errors.manager.emit_message = JpegQuiet;
  std::vector<uint8_t>* cmyk_row = new std::vector<uint8_t>();
  absl::Status status;
  if (setjmp(errors.jump)) {
    status = absl::InvalidArgumentError(absl::StrCat("JPEG: ", errors.message));
  } else {
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&info, TRUE);
    status = CheckPixels(info.image_width, info.image_height, limits, "JPEG");
    if (status.ok()) {
      for (jpeg_saved_marker_ptr marker = info.marker_list; marker != nullptr;
           marker = marker->next) {
        const absl::string_view data(reinterpret_cast<const char*>(marker->data),
                                     marker->data_length);
        if (marker->marker == JPEG_APP0 + 1 && data.substr(0, 6) == absl::string_view("Exif\0\0", 6)) {
          *orientation = ExifOrientation(data);
          break;
        }
      }
      const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
      const bool inverted = cmyk && info.saw_Adobe_marker;
      info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
      jpeg_start_decompress(&info);
      const int width = info.output_width, height = info.output_height;
      image->width = width;
      image->height = height;
      image->pixels.resize(static_cast<size_t>(width) * height * 3);
      cmyk_row->resize(static_cast<size_t>(width) * 4);
      while (info.output_scanline < info.output_height) {
        uint8_t* out = image->pixels.data() + static_cast<size_t>(info.output_scanline) * width * 3;
        JSAMPROW row = cmyk ? cmyk_row->data() : out;
        jpeg_read_scanlines(&info, &row, 1);
        if (!cmyk) continue;
        for (int x = 0; x < width; ++x) {
          const uint8_t* p = cmyk_row->data() + 4 * x;
          const int k = inverted ? p[3] : 255 - p[3];
          for (int c = 0; c < 3; ++c) out[3 * x + c] = Muldiv255(inverted ? p[c] : 255 - p[c], k);
        }
      }
      jpeg_finish_decompress(&info);
    }
  }
  jpeg_destroy_decompress(&info);
  delete cmyk_row;
  return status;
}

// ---- WebP ----

absl::Status DecodeWebpInto(absl::string_view bytes, const ImageLimits& limits, RgbImage* image) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, bytes.size(), &features) != VP8_STATUS_OK) {
    return absl::InvalidArgumentError("WebP: corrupt header");
  }
  if (features.has_animation) return absl::InvalidArgumentError("WebP: animations are not supported");
  absl::Status status = CheckPixels(features.width, features.height, limits, "WebP");
  if (!status.ok()) return status;
  image->width = features.width;
  image->height = features.height;
  image->pixels.resize(static_cast<size_t>(features.width) * features.height * 3);
  if (WebPDecodeRGBInto(data, bytes.size(), image->pixels.data(), image->pixels.size(),
                        features.width * 3) == nullptr) {
    return absl::InvalidArgumentError("WebP: corrupt image data");
  }
  return absl::OkStatus();
}

absl::string_view FormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kWebp: return "WebP";
    default: return "unknown";
  }
}

// ---- EXIF (TIFF structure) ----

class TiffReader {
 public:
  TiffReader(absl::string_view data, bool big_endian) : data_(data), big_endian_(big_endian) {}
  bool U16(size_t at, uint32_t* out) const { return Read(at, 2, out); }
  bool U32(size_t at, uint32_t* out) const { return Read(at, 4, out); }

 private:
  bool Read(size_t at, int bytes, uint32_t* out) const {
    if (at > data_.size() || data_.size() - at < static_cast<size_t>(bytes)) return false;
    uint32_t value = 0;
    for (int i = 0; i < bytes; ++i) {
      const uint32_t byte = static_cast<uint8_t>(data_[at + (big_endian_ ? i : bytes - 1 - i)]);
      value = value << 8 | byte;
    }
    *out = value;
    return true;
  }
  absl::string_view data_;
  bool big_endian_;
};

}  // namespace

int ExifOrientation(absl::string_view exif) {
  if (exif.substr(0, 6) == absl::string_view("Exif\0\0", 6)) exif.remove_prefix(6);
  if (exif.size() < 8) return 1;
  bool big_endian;
  if (exif.substr(0, 4) == absl::string_view("II*\0", 4)) {
    big_endian = false;
  } else if (exif.substr(0, 4) == absl::string_view("MM\0*", 4)) {
    big_endian = true;
  } else {
    return 1;
  }
  const TiffReader tiff(exif, big_endian);
  uint32_t ifd = 0, count = 0;
  if (!tiff.U32(4, &ifd) || !tiff.U16(ifd, &count)) return 1;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = static_cast<size_t>(ifd) + 2 + 12 * static_cast<size_t>(i);
    uint32_t tag = 0, type = 0, value = 0;
    if (!tiff.U16(entry, &tag) || !tiff.U16(entry + 2, &type)) return 1;
    if (tag != 0x0112) continue;
    if (type != 3 || !tiff.U16(entry + 8, &value)) return 1;  // SHORT, stored inline.
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

RgbImage ApplyExifOrientation(RgbImage image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width, h = image.height;
  const bool swap = orientation >= 5;
  RgbImage out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.pixels.resize(image.pixels.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                  // Mirror left-right.
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;  // Rotate 180.
        case 4: sy = h - 1 - y; break;                  // Mirror top-bottom.
        case 5: sx = y; sy = x; break;                  // Transpose.
        case 6: sx = y; sy = h - 1 - x; break;          // Rotate 90 clockwise.
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;  // Transverse.
        case 8: sx = w - 1 - y; sy = x; break;          // Rotate 90 counter-clockwise.
      }
      std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * 3],
                  &image.pixels[(static_cast<size_t>(sy) * w + sx) * 3], 3);
    }
  }
  return out;
}

ImageFormat SniffImageFormat(absl::string_view bytes) {
  if (bytes.substr(0, 8) == absl::string_view("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (bytes.substr(0, 3) == "\xFF\xD8\xFF") return ImageFormat::kJpeg;
  if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") {
    return ImageFormat::kWebp;
  }
  return ImageFormat::kUnknown;
}

absl::StatusOr<RgbImage> DecodeImage(absl::string_view bytes, absl::string_view mime_type,
                                     const ImageLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(bytes.size(), " bytes exceed the limit of ",
                                                     limits.max_bytes));
  }
  const ImageFormat format = SniffImageFormat(bytes);
  if (format == ImageFormat::kUnknown) {
    return absl::InvalidArgumentError("not a PNG, JPEG or WebP image");
  }
  if (!mime_type.empty()) {
    const std::string mime = absl::AsciiStrToLower(mime_type);
    ImageFormat declared = ImageFormat::kUnknown;
    if (mime == "image/png") declared = ImageFormat::kPng;
    if (mime == "image/jpeg" || mime == "image/jpg") declared = ImageFormat::kJpeg;
    if (mime == "image/webp") declared = ImageFormat::kWebp;
    if (declared == ImageFormat::kUnknown) {
      return absl::InvalidArgumentError(absl::StrCat("mime_type \"", mime_type,
                                                     "\" is not image/png, image/jpeg or image/webp"));
    }
    if (declared != format) {
      return absl::InvalidArgumentError(absl::StrCat("mime_type \"", mime_type,
                                                     "\" does not match the data (",
                                                     FormatName(format), ")"));
    }
  }
  RgbImage image;
  int orientation = 1;
  absl::Status status;
  switch (format) {
    case ImageFormat::kPng: status = DecodePngInto(bytes, limits, &image, &orientation); break;
    case ImageFormat::kJpeg: status = DecodeJpegInto(bytes, limits, &image, &orientation); break;
    default: status = DecodeWebpInto(bytes, limits, &image); break;
  }
  if (!status.ok()) return status;
  return ApplyExifOrientation(std::move(image), orientation);
}

}  // namespace gemma
