#include "preprocess/image.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "preprocess/testing/media_fixtures.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

using testing::Png;
using testing::PngChunk;

TEST(ImageTest, TargetSizeFollowsTheProcessorRule) {
  // 640x480 at 280: factor = sqrt(2520 * 256 / 307200) = 1.449; 927.6 / 48 -> 19, 695.7 -> 14.
  EXPECT_EQ(TargetSize(640, 480, 280)->width, 912);
  EXPECT_EQ(TargetSize(640, 480, 280)->height, 672);
  // Square 1000x1000 at 70: sqrt(70) * 48 = 401.6 -> 8 patches a side (64 <= 70).
  EXPECT_EQ(TargetSize(1000, 1000, 70)->width, 384);
  // 2000x10 at 280: factor 5.68; height 56.8 -> 1 patch, width 11359 -> 236 patches.
  EXPECT_EQ(TargetSize(2000, 10, 280)->width, 11328);
  // Thin: 2000x5 at 280: height floors to 0 -> 48, width = min(400 * 48, 280 * 48).
  EXPECT_EQ(TargetSize(2000, 5, 280)->height, 48);
  EXPECT_EQ(TargetSize(2000, 5, 280)->width, 13440);
  for (int budget : {70, 140, 280, 560, 1120}) {
    for (auto [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {7, 3000}, {4032, 3024}, {48, 48}}) {
      absl::StatusOr<ResizeTarget> t = TargetSize(w, h, budget);
      ASSERT_TRUE(t.ok()) << w << "x" << h;
      EXPECT_LE((t->width / 48) * (t->height / 48), budget) << w << "x" << h << " @" << budget;
      EXPECT_EQ(t->width % 48, 0);
      EXPECT_EQ(t->height % 48, 0);
    }
  }
}

TEST(ImageTest, ResizeKeepsConstantsAndIdentity) {
  RgbImage image{5, 3, std::vector<uint8_t>(5 * 3 * 3, 77)};
  RgbImage up = ResizeBicubic(image, 96, 48);
  EXPECT_EQ(up.width, 96);
  for (uint8_t v : up.pixels) ASSERT_EQ(v, 77);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  EXPECT_EQ(ResizeBicubic(image, 5, 3).pixels, image.pixels);
}

TEST(ImageTest, PatchesAreBlocksInRowMajorOrder) {
  RgbImage image{96, 48, std::vector<uint8_t>(96 * 48 * 3)};
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 96; ++x) {
      for (int c = 0; c < 3; ++c) image.pixels[(y * 96 + x) * 3 + c] = (x / 48) * 100 + c;
    }
  }
  image.pixels[(5 * 96 + 50) * 3 + 1] = 250;  // Patch 1, y = 5, x = 2, green.
  std::vector<uint8_t> patches = Patchify(image);
  ASSERT_EQ(patches.size(), 2u * kPatchValues);
  EXPECT_EQ(patches[0], 0);
  EXPECT_EQ(patches[kPatchValues + 2], 102);
  EXPECT_EQ(patches[kPatchValues + (5 * 48 + 2) * 3 + 1], 250);
}

TEST(ImageTest, ExifOrientationTransforms) {
  // 3x2 image with distinct pixels p(x, y) = 10 y + x in every channel.
  RgbImage image{3, 2, {}};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) image.pixels.insert(image.pixels.end(), 3, 10 * y + x);
  }
  auto first_column = [](const RgbImage& im) {
    std::vector<int> values;
    for (int y = 0; y < im.height; ++y) values.push_back(im.pixels[y * im.width * 3]);
    return values;
  };
  EXPECT_THAT(first_column(ApplyExifOrientation(image, 2)), ::testing::ElementsAre(2, 12));
  EXPECT_THAT(first_column(ApplyExifOrientation(image, 3)), ::testing::ElementsAre(12, 2));
  RgbImage clockwise = ApplyExifOrientation(image, 6);
  EXPECT_EQ(clockwise.width, 2);
  EXPECT_EQ(clockwise.height, 3);
  EXPECT_THAT(first_column(clockwise), ::testing::ElementsAre(10, 11, 12));
  EXPECT_THAT(first_column(ApplyExifOrientation(image, 8)), ::testing::ElementsAre(2, 1, 0));
  EXPECT_THAT(first_column(ApplyExifOrientation(image, 5)), ::testing::ElementsAre(0, 1, 2));
  EXPECT_THAT(first_column(ApplyExifOrientation(image, 7)), ::testing::ElementsAre(12, 11, 10));
}

TEST(ImageTest, ExifParserReadsBothByteOrdersAndSurvivesGarbage) {
  const std::string little("Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0", 28);
  const std::string big("MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x08\0\0", 22);
  EXPECT_EQ(ExifOrientation(little), 6);
  EXPECT_EQ(ExifOrientation(big), 8);
  EXPECT_EQ(ExifOrientation(little.substr(0, 20)), 1);
  EXPECT_EQ(ExifOrientation(std::string("II*\0\xff\xff\xff\xff", 8)), 1);
  EXPECT_EQ(ExifOrientation(""), 1);
}

TEST(ImageTest, DecodesPngAndRejectsBadInput) {
  std::vector<uint8_t> pixels(4 * 2 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 9);
  const std::string png = Png(4, 2, pixels);
  absl::StatusOr<RgbImage> image = DecodeImage(png, "image/png", ImageLimits());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels, pixels);

  EXPECT_THAT(std::string(DecodeImage("GIF89a....", "", ImageLimits()).status().message()),
              HasSubstr("not a PNG, JPEG or WebP"));
  EXPECT_THAT(std::string(DecodeImage(png, "image/jpeg", ImageLimits()).status().message()),
              HasSubstr("does not match the data (PNG)"));
  EXPECT_EQ(DecodeImage(png, "image/gif", ImageLimits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status truncated = DecodeImage(png.substr(0, png.size() - 20), "", ImageLimits()).status();
  EXPECT_EQ(truncated.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(truncated.message()), HasSubstr("PNG:"));
  EXPECT_EQ(DecodeImage(std::string("\xFF\xD8\xFF\xE0garbage", 10), "", ImageLimits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  ImageLimits small;
  small.max_bytes = 10;
  EXPECT_EQ(DecodeImage(png, "", small).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ImageTest, DecompressionBombIsRefusedBeforeDecoding) {
  const std::string bomb =
      testing::PngHeader(60000, 60000) + PngChunk("IDAT", "x") + PngChunk("IEND", "");
  absl::Status status = DecodeImage(bomb, "", ImageLimits()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("60000x60000"));
}

TEST(ImageTest, PreprocessChecksTheBudget) {
  const std::string png = Png(4, 2, std::vector<uint8_t>(24, 200));
  EXPECT_EQ(PreprocessImage(png, "", 69, ImageLimits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ImagePatches> patches = PreprocessImage(png, "", 280, ImageLimits());
  ASSERT_TRUE(patches.ok()) << patches.status();
  EXPECT_EQ(patches->source_width, 4);
  EXPECT_EQ(patches->patches.size(),
            static_cast<size_t>(patches->grid_width) * patches->grid_height * kPatchValues);
  for (uint8_t v : patches->patches) ASSERT_EQ(v, 200);
}

}  // namespace
}  // namespace gemma
