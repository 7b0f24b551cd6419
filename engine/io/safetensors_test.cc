#include "engine/io/safetensors.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

std::vector<SafetensorsEntry> Sample() {
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {F32ToBf16(0.5f), F32ToBf16(2.f), F32ToBf16(-4.f)};
  std::vector<SafetensorsEntry> entries(2);
  entries[0] = {"model.layers.0.self_attn.q_proj.weight", DType::kF32, {2, 3}, {}};
  entries[0].data.resize(24);
  std::memcpy(entries[0].data.data(), a.data(), 24);
  entries[1] = {"model.norm.weight", DType::kBF16, {3}, {}};
  entries[1].data.resize(6);
  std::memcpy(entries[1].data.data(), b.data(), 6);
  return entries;
}

void ExpectSample(const SafetensorsCheckpoint& checkpoint) {
  const TensorView* q = checkpoint.Find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(static_cast<const float*>(q->data)[4], 5.f);
  const TensorView* norm = checkpoint.Find("model.norm.weight");
  ASSERT_NE(norm, nullptr);
  float values[3];
  ConvertToF32(norm->dtype, norm->data, 3, values);
  EXPECT_EQ(values[2], -4.f);
}

TEST(SafetensorsTest, SingleFileRoundTrip) {
  const std::string dir = TempDir("single");
  ASSERT_TRUE(WriteSafetensorsDirectory(dir, Sample()).ok());
  absl::StatusOr<SafetensorsCheckpoint> checkpoint = SafetensorsCheckpoint::OpenDirectory(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ExpectSample(*checkpoint);
  EXPECT_EQ(checkpoint->tensors().size(), 2u);
}

TEST(SafetensorsTest, ShardedRoundTripThroughTheIndex) {
  const std::string dir = TempDir("sharded");
  ASSERT_TRUE(WriteSafetensorsDirectory(dir, Sample(), /*max_shard_bytes=*/16).ok());
  EXPECT_TRUE(std::ifstream(dir + "/model-00001-of-00002.safetensors").good());
  EXPECT_TRUE(std::ifstream(dir + "/model.safetensors.index.json").good());
  absl::StatusOr<SafetensorsCheckpoint> checkpoint = SafetensorsCheckpoint::OpenDirectory(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ExpectSample(*checkpoint);
}

TEST(SafetensorsTest, TruncatedFileNamesTheTensor) {
  const std::string dir = TempDir("truncated");
  ASSERT_TRUE(WriteSafetensorsDirectory(dir, Sample()).ok());
  const std::string path = dir + "/model.safetensors";
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() - 2);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  absl::StatusOr<SafetensorsCheckpoint> checkpoint = SafetensorsCheckpoint::OpenDirectory(dir);
  EXPECT_EQ(checkpoint.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(checkpoint.status().message(), HasSubstr("model.norm.weight"));
}

TEST(SafetensorsTest, EveryTruncationPointFailsCleanly) {
  const std::string dir = TempDir("every");
  ASSERT_TRUE(WriteSafetensorsDirectory(dir, Sample()).ok());
  std::ifstream in(dir + "/model.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir + "/cut.safetensors";
  for (size_t size = 0; size < bytes.size(); size += 5) {
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
    EXPECT_FALSE(SafetensorsCheckpoint::OpenFile(cut).ok()) << "accepted a cut at " << size;
  }
}

void WriteRaw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t length = header.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header << std::string(data_bytes, '\0');
}

TEST(SafetensorsTest, RejectsInconsistentHeaders) {
  const std::string dir = TempDir("bad");
  const std::string path = dir + "/x.safetensors";
  WriteRaw(path, "{not json", 0);
  EXPECT_THAT(SafetensorsCheckpoint::OpenFile(path).status().message(), HasSubstr("JSON"));
  WriteRaw(path, R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 16);
  EXPECT_THAT(SafetensorsCheckpoint::OpenFile(path).status().message(),
              HasSubstr("tensor w: data_offsets [0, 12) hold 12 bytes"));
  WriteRaw(path, R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", 2);
  EXPECT_EQ(SafetensorsCheckpoint::OpenFile(path).status().code(),
            absl::StatusCode::kUnimplemented);
  WriteRaw(path, R"({"w": {"dtype": "F32", "shape": [2]}})", 8);
  EXPECT_THAT(SafetensorsCheckpoint::OpenFile(path).status().message(), HasSubstr("tensor w"));
}

TEST(SafetensorsTest, IndexListingAMissingTensorIsAnError) {
  const std::string dir = TempDir("index");
  ASSERT_TRUE(WriteSafetensorsDirectory(dir, Sample(), 16).ok());
  std::ofstream(dir + "/model.safetensors.index.json", std::ios::trunc)
      << R"({"weight_map": {"ghost": "model-00001-of-00002.safetensors"}})";
  EXPECT_THAT(SafetensorsCheckpoint::OpenDirectory(dir).status().message(), HasSubstr("ghost"));
  std::ofstream(dir + "/model.safetensors.index.json", std::ios::trunc)
      << R"({"weight_map": {"w": "../../etc/passwd"}})";
  EXPECT_EQ(SafetensorsCheckpoint::OpenDirectory(dir).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gemma
