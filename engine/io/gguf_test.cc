#include "engine/io/gguf.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/io/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR")) + "/" + name;
}

template <typename T>
std::vector<uint8_t> Bytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::string WriteSample(const std::string& name) {
  GgufWriter writer;
  writer.SetMetadata("general.architecture", GgufValue::String("gemma4"));
  writer.SetMetadata("gemma4.block_count", GgufValue::U32(6));
  writer.SetMetadata("gemma4.final_logit_softcapping", GgufValue::F32(30.f));
  writer.SetMetadata("gemma4.attention.sliding_window_pattern",
                     GgufValue::BoolArray({true, true, false}));
  writer.SetMetadata("gemma4.attention.head_count_kv", GgufValue::I32Array({8, 8, 1}));
  writer.SetMetadata("tokenizer.ggml.tokens", GgufValue::StringArray({"<pad>", "<eos>", "▁the"}));
  std::vector<float> weights = {1, 2, 3, 4, 5, 6};
  EXPECT_TRUE(writer.AddTensor("blk.0.attn_q.weight", DType::kF32, {2, 3}, Bytes(weights)).ok());
  std::vector<uint16_t> half = {F32ToF16(0.5f), F32ToF16(-1.5f)};
  EXPECT_TRUE(writer.AddTensor("norm.f16", DType::kF16, {2}, Bytes(half)).ok());
  std::vector<uint16_t> brain = {F32ToBf16(3.0f)};
  EXPECT_TRUE(writer.AddTensor("scale.bf16", DType::kBF16, {1}, Bytes(brain)).ok());
  std::vector<float> row(64);
  for (int i = 0; i < 64; ++i) row[i] = i - 31.5f;
  std::vector<uint8_t> q(DTypeBytes(DType::kQ8_0, 64));
  QuantizeQ8_0(row.data(), 64, q.data());
  EXPECT_TRUE(writer.AddTensor("blk.0.ffn_up.weight", DType::kQ8_0, {2, 32}, q).ok());
  const std::string path = TempPath(name);
  EXPECT_TRUE(writer.Write(path).ok());
  return path;
}

TEST(GgufTest, RoundTripsMetadataAndTensors) {
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(WriteSample("sample.gguf"));
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  EXPECT_EQ(gguf->version(), 3u);
  EXPECT_EQ(*gguf->GetString("general.architecture"), "gemma4");
  EXPECT_EQ(*gguf->GetInt("gemma4.block_count"), 6);
  EXPECT_EQ(*gguf->GetFloat("gemma4.final_logit_softcapping"), 30.0);
  EXPECT_EQ(*gguf->GetIntsPerLayer("gemma4.attention.head_count_kv", 3),
            (std::vector<int64_t>{8, 8, 1}));
  EXPECT_EQ(*gguf->GetIntsPerLayer("gemma4.attention.sliding_window_pattern", 3),
            (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(*gguf->GetIntsPerLayer("gemma4.block_count", 2), (std::vector<int64_t>{6, 6}));
  EXPECT_EQ(gguf->Find("tokenizer.ggml.tokens")->strings[2], "▁the");

  const TensorView* q = gguf->FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{2, 3}));  // Outermost first, as written.
  EXPECT_EQ(static_cast<const float*>(q->data)[5], 6.f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q->data) % 32, 0u);

  float value[2];
  ConvertToF32(DType::kF16, gguf->FindTensor("norm.f16")->data, 2, value);
  EXPECT_EQ(value[1], -1.5f);
  ConvertToF32(DType::kBF16, gguf->FindTensor("scale.bf16")->data, 1, value);
  EXPECT_EQ(value[0], 3.f);
  const TensorView* up = gguf->FindTensor("blk.0.ffn_up.weight");
  EXPECT_EQ(up->dtype, DType::kQ8_0);
  EXPECT_EQ(up->bytes, 2u * 34);
  std::vector<float> row(64);
  ConvertToF32(DType::kQ8_0, up->data, 64, row.data());
  EXPECT_NEAR(row[0], -31.5f, 0.2f);
  EXPECT_NEAR(row[63], 31.5f, 0.2f);
  EXPECT_EQ(gguf->FindTensor("missing"), nullptr);
}

TEST(GgufTest, TypedLookupsExplainMismatches) {
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(WriteSample("typed.gguf"));
  ASSERT_TRUE(gguf.ok());
  EXPECT_EQ(gguf->GetInt("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gguf->GetInt("general.architecture").status().message(),
              HasSubstr("general.architecture"));
  EXPECT_EQ(gguf->GetIntsPerLayer("gemma4.attention.head_count_kv", 4).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GgufTest, TruncatedFileNamesTheTensor) {
  const std::string path = WriteSample("truncated.gguf");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() - 40);  // Cuts into the last tensor's data.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(path);
  EXPECT_EQ(gguf.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(gguf.status().message(), HasSubstr("blk.0.ffn_up.weight"));
}

TEST(GgufTest, EveryTruncationPointFailsCleanly) {
  const std::string path = WriteSample("every.gguf");
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = TempPath("cut.gguf");
  // The writer pads the last tensor (68 bytes of q8_0) to 32 bytes; cuts into that padding leave
  // every byte of data in place and are legitimately readable.
  const size_t data_end = bytes.size() - 28;
  for (size_t size = 0; size < data_end; size += 7) {
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
    EXPECT_FALSE(GgufFile::Open(cut).ok()) << "accepted a file cut at " << size;
  }
}

TEST(GgufTest, RejectsBadMagicVersionAndTypes) {
  const std::string path = WriteSample("corrupt.gguf");
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(0);
  file.write("GGUX", 4);
  file.close();
  EXPECT_THAT(GgufFile::Open(path).status().message(), HasSubstr("not a GGUF file"));

  const std::string versioned = WriteSample("version.gguf");
  std::fstream v(versioned, std::ios::binary | std::ios::in | std::ios::out);
  const uint32_t version = 99;
  v.seekp(4);
  v.write(reinterpret_cast<const char*>(&version), 4);
  v.close();
  EXPECT_EQ(GgufFile::Open(versioned).status().code(), absl::StatusCode::kUnimplemented);

  EXPECT_EQ(GgufFile::Open(TempPath("does-not-exist.gguf")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(GgufTest, RejectsImplausibleStringLength) {
  const std::string path = WriteSample("string.gguf");
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  const uint64_t huge = uint64_t{1} << 40;
  file.seekp(24);  // The first metadata key's length.
  file.write(reinterpret_cast<const char*>(&huge), 8);
  file.close();
  absl::StatusOr<GgufFile> gguf = GgufFile::Open(path);
  EXPECT_EQ(gguf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(gguf.status().message(), HasSubstr("offset 24"));
}

TEST(GgufTest, WriterRejectsSizeMismatchAndDuplicates) {
  GgufWriter writer;
  EXPECT_FALSE(writer.AddTensor("x", DType::kF32, {2, 2}, std::vector<uint8_t>(12)).ok());
  EXPECT_TRUE(writer.AddTensor("x", DType::kF32, {3}, std::vector<uint8_t>(12)).ok());
  EXPECT_FALSE(writer.AddTensor("x", DType::kF32, {3}, std::vector<uint8_t>(12)).ok());
}

}  // namespace
}  // namespace gemma
