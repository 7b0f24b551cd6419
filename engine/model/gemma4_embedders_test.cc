// The encoder-free embedders against a naive double-precision reference, and their use in the
// forward pass: placeholder replacement, the bidirectional image mask on sliding layers, causal
// audio, KV caching across media, and input validation.
#include "engine/model/gemma4_embedders.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/model/gemma4.h"
#include "engine/tools/test_checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gemma {
namespace {

using ::testing::HasSubstr;

constexpr int kBlock = 16;
constexpr int kPatch = 6912;

std::vector<float> Uniform(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> ToDouble(const Matrix& m) {
  std::vector<float> f(m.rows * m.cols);
  ConvertToF32(m.dtype, m.data, f.size(), f.data());
  return std::vector<double>(f.begin(), f.end());
}

void NaiveLayerNorm(std::vector<double>& x, const std::vector<float>& w,
                    const std::vector<float>& b, double eps) {
  double mean = 0, var = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  for (double v : x) var += (v - mean) * (v - mean);
  var /= x.size();
  for (size_t i = 0; i < x.size(); ++i) x[i] = (x[i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
}

void NaiveRmsNorm(std::vector<double>& x) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= x.size();
  for (double& v : x) v /= std::sqrt(ms + 1e-6);
}

std::vector<double> NaiveLinear(const std::vector<double>& w, size_t rows,
                                const std::vector<double>& x) {
  std::vector<double> y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < x.size(); ++c) y[r] += w[r * x.size() + c] * x[c];
  }
  return y;
}

class EmbeddersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCheckpointOptions options;
    options.num_layers = 6;
    options.seed = 21;
    options.hf_dir = std::string(getenv("TEST_TMPDIR")) + "/media";
    options.gguf_path = std::string(getenv("TEST_TMPDIR")) + "/media.gguf";
    ASSERT_TRUE(WriteTestCheckpoint(options).ok());
    auto model = Gemma4Model::Load(options.hf_dir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = model->release();
  }
  static void TearDownTestSuite() { delete model_; }

  // <bos> a b <|image> [image soft tokens] <image|> c d ...
  static std::vector<int32_t> PromptAround(int soft_tokens, int32_t placeholder, int tail) {
    std::vector<int32_t> tokens = {2, 1000, 2000, placeholder == kImageSoftToken ? 255999 : 256000};
    for (int i = 0; i < soft_tokens; ++i) tokens.push_back(placeholder);
    tokens.push_back(placeholder == kImageSoftToken ? 258882 : 258883);
    for (int i = 0; i < tail; ++i) tokens.push_back(3000 + 17 * i);
    return tokens;
  }

  std::vector<float> Logits(const std::vector<int32_t>& tokens, const MediaSpan& span) {
    KvCache cache(model_->config(), {kBlock, 8, 8});
    BlockTables tables = ConsecutiveBlockTables(static_cast<int>(tokens.size()), kBlock);
    std::vector<float> logits;
    absl::Status status = model_->Forward(
        {{tokens, 0, &tables, true, absl::MakeConstSpan(&span, 1)}}, cache, &logits);
    EXPECT_TRUE(status.ok()) << status;
    return logits;
  }

  std::vector<float> Row(const std::vector<float>& logits, int position) {
    const int vocab = model_->config().vocab_size;
    return std::vector<float>(logits.begin() + position * vocab,
                              logits.begin() + (position + 1) * vocab);
  }

  static Gemma4Model* model_;
};

Gemma4Model* EmbeddersTest::model_ = nullptr;

TEST_F(EmbeddersTest, ImageEmbeddingMatchesNaiveReference) {
  const Gemma4Config& c = model_->config();
  ASSERT_TRUE(model_->embedders().image.has_value());
  const ImageEmbedderWeights& w = *model_->embedders().image;
  const int n = 6, grid_width = 3, h = c.hidden_size;
  std::vector<float> patches = Uniform(size_t{n} * kPatch, 1, 0.f, 1.f);
  std::vector<float> out(size_t{n} * h);
  EmbedImage(w, c, patches.data(), n, grid_width, out.data());
  const std::vector<double> dense = ToDouble(w.dense), projection = ToDouble(w.projection);
  for (int i = 0; i < n; ++i) {
    std::vector<double> x(patches.begin() + i * kPatch, patches.begin() + (i + 1) * kPatch);
    NaiveLayerNorm(x, w.ln1_weight, w.ln1_bias, 1e-5);
    x = NaiveLinear(dense, h, x);
    for (int d = 0; d < h; ++d) x[d] += w.dense_bias[d];
    NaiveLayerNorm(x, w.ln2_weight, w.ln2_bias, 1e-5);
    const int px = i % grid_width, py = i / grid_width;
    for (int d = 0; d < h; ++d) x[d] += w.positions[(px * 2 + 0) * h + d] + w.positions[(py * 2 + 1) * h + d];
    NaiveLayerNorm(x, w.pos_norm_weight, w.pos_norm_bias, 1e-5);
    NaiveRmsNorm(x);
    x = NaiveLinear(projection, h, x);
    for (int d = 0; d < h; ++d) ASSERT_NEAR(out[i * h + d], x[d], 2e-4 * (1 + std::fabs(x[d]))) << i;
  }
}

TEST_F(EmbeddersTest, AudioEmbeddingMatchesNaiveReference) {
  const Gemma4Config& c = model_->config();
  ASSERT_TRUE(model_->embedders().audio.has_value());
  const int n = 3, h = c.hidden_size;
  std::vector<float> frames = Uniform(size_t{n} * 640, 2, -0.5f, 0.5f);
  std::vector<float> out(size_t{n} * h);
  EmbedAudio(*model_->embedders().audio, c, frames.data(), n, out.data());
  const std::vector<double> projection = ToDouble(model_->embedders().audio->projection);
  for (int i = 0; i < n; ++i) {
    std::vector<double> x(frames.begin() + i * 640, frames.begin() + (i + 1) * 640);
    NaiveRmsNorm(x);
    x = NaiveLinear(projection, h, x);
    for (int d = 0; d < h; ++d) ASSERT_NEAR(out[i * h + d], x[d], 1e-4 * (1 + std::fabs(x[d])));
  }
}

TEST_F(EmbeddersTest, ImagePositionsSeeTheWholeImageOnSlidingLayers) {
  const int n = 6;
  const std::vector<int32_t> tokens = PromptAround(n, kImageSoftToken, 4);
  std::vector<float> a = Uniform(size_t{n} * kPatch, 3, 0.f, 1.f), b = a;
  for (int i = 0; i < kPatch; ++i) b[(n - 1) * kPatch + i] = 1.f - b[(n - 1) * kPatch + i];
  const std::vector<float> with_a = Logits(tokens, {MediaKind::kImage, 4, n, a.data(), 3});
  const std::vector<float> with_b = Logits(tokens, {MediaKind::kImage, 4, n, b.data(), 3});
  // Only the last patch differs. Text before the image cannot see it ...
  for (int p = 0; p < 4; ++p) EXPECT_EQ(Row(with_a, p), Row(with_b, p)) << p;
  // ... but the image's first position can (bidirectional inside the image), and so can the text
  // after it.
  EXPECT_NE(Row(with_a, 4), Row(with_b, 4));
  EXPECT_NE(Row(with_a, static_cast<int>(tokens.size()) - 1),
            Row(with_b, static_cast<int>(tokens.size()) - 1));
}

TEST_F(EmbeddersTest, AudioIsCausal) {
  const int n = 5;
  const std::vector<int32_t> tokens = PromptAround(n, kAudioSoftToken, 3);
  std::vector<float> a = Uniform(size_t{n} * 640, 4, -1.f, 1.f), b = a;
  for (int i = 0; i < 640; ++i) b[(n - 1) * 640 + i] *= -1.f;
  const std::vector<float> with_a = Logits(tokens, {MediaKind::kAudio, 4, n, a.data(), 0});
  const std::vector<float> with_b = Logits(tokens, {MediaKind::kAudio, 4, n, b.data(), 0});
  for (int p = 0; p < 4 + n - 1; ++p) EXPECT_EQ(Row(with_a, p), Row(with_b, p)) << p;
  EXPECT_NE(Row(with_a, 4 + n - 1), Row(with_b, 4 + n - 1));
}

TEST_F(EmbeddersTest, DecodingAfterAnImageEqualsFullRecompute) {
  const int n = 12;  // Crosses a block boundary.
  const std::vector<int32_t> tokens = PromptAround(n, kImageSoftToken, 9);
  std::vector<float> patches = Uniform(size_t{n} * kPatch, 5, 0.f, 1.f);
  const MediaSpan span{MediaKind::kImage, 4, n, patches.data(), 4};
  const std::vector<float> full = Logits(tokens, span);

  KvCache cache(model_->config(), {kBlock, 8, 8});
  BlockTables tables = ConsecutiveBlockTables(3 * kBlock, kBlock);
  const int prefix = 4 + n + 2;
  std::vector<float> logits;
  ASSERT_TRUE(model_->Forward({{absl::MakeConstSpan(tokens).subspan(0, prefix), 0, &tables, false,
                                absl::MakeConstSpan(&span, 1)}},
                              cache, &logits)
                  .ok());
  for (int p = prefix; p < static_cast<int>(tokens.size()); ++p) {
    ASSERT_TRUE(model_->Forward({{absl::MakeConstSpan(tokens).subspan(p, 1), p, &tables, false}},
                                cache, &logits)
                    .ok());
    ASSERT_EQ(logits, Row(full, p)) << p;
  }
}

TEST_F(EmbeddersTest, MisplacedMediaIsRejected) {
  const int n = 4;
  std::vector<int32_t> tokens = PromptAround(n, kImageSoftToken, 2);
  std::vector<float> patches = Uniform(size_t{n} * kPatch, 6, 0.f, 1.f);
  KvCache cache(model_->config(), {kBlock, 2, 2});
  BlockTables tables{{0}, 0, {0}};
  std::vector<float> logits;
  auto run = [&](const MediaSpan& span) {
    return model_->Forward({{tokens, 0, &tables, false, absl::MakeConstSpan(&span, 1)}}, cache,
                           &logits);
  };
  EXPECT_THAT(run({MediaKind::kImage, 3, n, patches.data(), 2}).message(),
              HasSubstr("position 3 holds token 255999"));
  EXPECT_THAT(run({MediaKind::kImage, 8, n, patches.data(), 2}).message(),
              HasSubstr("leave the chunk"));
  EXPECT_THAT(run({MediaKind::kImage, 4, n, nullptr, 2}).message(), HasSubstr("features"));
  EXPECT_THAT(run({MediaKind::kImage, 4, n, patches.data(), 2000}).message(),
              HasSubstr("grid width"));
  EXPECT_THAT(run({MediaKind::kAudio, 4, n, patches.data(), 0}).message(),
              HasSubstr("not 258881"));

  auto gguf = Gemma4Model::Load(std::string(getenv("TEST_TMPDIR")) + "/media.gguf");
  ASSERT_TRUE(gguf.ok());
  const MediaSpan span{MediaKind::kImage, 4, n, patches.data(), 2};
  KvCache other((*gguf)->config(), {kBlock, 2, 2});
  EXPECT_THAT((*gguf)
                  ->Forward({{tokens, 0, &tables, false, absl::MakeConstSpan(&span, 1)}}, other,
                            &logits)
                  .message(),
              HasSubstr("no image embedder"));
}

}  // namespace
}  // namespace gemma
