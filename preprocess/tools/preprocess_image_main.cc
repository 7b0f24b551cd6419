// Runs the image pipeline on a file and writes what it produced, for comparisons with other
// implementations.
//   preprocess_image --input=IMAGE [--max_soft_tokens=280] [--decoded=OUT.rgb]
//                    [--resized=OUT.rgb] [--patches=OUT.bin]
// Prints "source WxH resized WxH grid GWxGH"; .rgb files are raw interleaved 8-bit RGB.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "preprocess/image.h"

ABSL_FLAG(std::string, input, "", "PNG, JPEG or WebP file");
ABSL_FLAG(int, max_soft_tokens, 280, "soft-token budget");
ABSL_FLAG(std::string, decoded, "", "write the decoded (oriented) RGB here");
ABSL_FLAG(std::string, resized, "", "write the resized RGB here");
ABSL_FLAG(std::string, patches, "", "write the patch rows here");

namespace {
void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (path.empty()) return;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::ifstream in(absl::GetFlag(FLAGS_input), std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  absl::StatusOr<gemma::RgbImage> image = gemma::DecodeImage(bytes, "", gemma::ImageLimits());
  if (!image.ok()) {
    std::cerr << image.status() << "\n";
    return 1;
  }
  absl::StatusOr<gemma::ResizeTarget> target =
      gemma::TargetSize(image->width, image->height, absl::GetFlag(FLAGS_max_soft_tokens));
  if (!target.ok()) {
    std::cerr << target.status() << "\n";
    return 1;
  }
  const gemma::RgbImage resized = gemma::ResizeBicubic(*image, target->width, target->height);
  Write(absl::GetFlag(FLAGS_decoded), image->pixels);
  Write(absl::GetFlag(FLAGS_resized), resized.pixels);
  Write(absl::GetFlag(FLAGS_patches), gemma::Patchify(resized));
  std::cout << "source " << image->width << "x" << image->height << " resized " << target->width
            << "x" << target->height << " grid " << target->width / 48 << "x"
            << target->height / 48 << "\n";
  return 0;
}
