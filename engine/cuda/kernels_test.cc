// Each GPU kernel and the cuBLASLt GEMM against the CPU engine's kernels (engine/cpu), on the
// same inputs. bf16 outputs are compared after the CPU value is rounded to bf16 the same way
// (one bf16 ulp allowed for sums that round differently); f32 outputs within 1e-5 relative.
// Skips, saying why, without a GPU.
#include "engine/cuda/kernels.h"

#include <cmath>
#include <random>
#include <vector>

#include "engine/cpu/kernels.h"
#include "engine/cuda/device.h"
#include "engine/cuda/gemm.h"
#include "engine/dtype.h"
#include "gtest/gtest.h"

namespace gemma::cuda {
namespace {

std::vector<float> Random(size_t n, uint64_t seed, float scale = 1.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint16_t> ToBf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = F32ToBf16(v[i]);
  return out;
}

float FromBf16(uint16_t bits) { return Bf16ToF32(bits); }

template <typename T>
std::vector<T> Download(const DeviceBuffer& buffer, size_t count) {
  std::vector<T> host(count);
  EXPECT_TRUE(buffer.Download(host.data(), count * sizeof(T)).ok());
  return host;
}

// Within one bf16 ulp of the bf16-rounded reference.
void ExpectBf16Near(const std::vector<uint16_t>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const float expected = FromBf16(F32ToBf16(want[i]));
    EXPECT_NEAR(FromBf16(got[i]), expected, std::fabs(expected) * 0.0079f + 1e-6f) << i;
  }
}

void ExpectF32Near(const std::vector<float>& got, const std::vector<float>& want, float rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], std::fabs(want[i]) * rel + 1e-5f) << i;
  }
}

// Host planning, on every machine.
TEST(AttentionSplitsTest, SplitsOnlyLongRowsThatCannotFillTheGpu) {
  // Prefill-sized work fills the GPU: no split.
  EXPECT_EQ(PlanAttentionSplits(512, 16, 256, 512, 132).splits, 1);
  // Short rows: no split even at batch 1.
  EXPECT_EQ(PlanAttentionSplits(1, 16, 256, 200, 132).splits, 1);
  // Batch-1 decode over 8192 keys on 132 SMs: 16 blocks want 17 splits (2 blocks per SM).
  const AttentionSplits long_row = PlanAttentionSplits(1, 16, 512, 8192, 132);
  EXPECT_EQ(long_row.splits, 17);
  EXPECT_EQ(long_row.scratch_floats, size_t{16} * 17 * (2 + 512));
  // Never more splits than runs of 256 keys.
  EXPECT_EQ(PlanAttentionSplits(1, 16, 256, 600, 132).splits, 3);
}

class KernelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!HasGpu(&why)) GTEST_SKIP() << "GPU test skipped: " << why;
  }
  void Sync() { ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess); }
};

TEST_F(KernelsTest, EmbedAndNorms) {
  const int rows = 5, cols = 384, vocab = 50;
  const std::vector<float> table = Random(vocab * cols, 1);
  const std::vector<int32_t> tokens = {3, 0, 49, 3, 17};
  DeviceBuffer d_table, d_tokens, d_out, d_weight, d_bf16, d_h;
  ASSERT_TRUE(d_table.Upload(ToBf16(table)).ok());
  ASSERT_TRUE(d_tokens.Upload(tokens).ok());
  ASSERT_TRUE(d_out.Allocate(rows * cols * sizeof(float)).ok());
  // A rank holding rows [10, 40) of the vocabulary: only token 17 is its, the rest are zeros.
  ASSERT_EQ(LaunchEmbed(d_table.as<uint16_t>() + 10 * cols, d_tokens.as<int32_t>(), rows, cols,
                        2.5f, 10, 30, d_out.as<float>(), nullptr),
            cudaSuccess);
  Sync();
  const std::vector<float> sliced = Download<float>(d_out, rows * cols);
  for (int r = 0; r < rows; ++r) {
    const float expected = tokens[r] == 17 ? FromBf16(F32ToBf16(table[17 * cols + 5])) * 2.5f : 0.f;
    EXPECT_EQ(sliced[r * cols + 5], expected) << "row " << r;
  }
  ASSERT_EQ(LaunchEmbed(d_table.as<uint16_t>(), d_tokens.as<int32_t>(), rows, cols, 2.5f, 0, vocab,
                        d_out.as<float>(), nullptr),
            cudaSuccess);
  Sync();
  std::vector<float> embedded(rows * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      embedded[r * cols + c] = FromBf16(F32ToBf16(table[tokens[r] * cols + c])) * 2.5f;
    }
  }
  ExpectF32Near(Download<float>(d_out, rows * cols), embedded, 0.f);

  const std::vector<float> weight = Random(cols, 2);
  ASSERT_TRUE(d_weight.Upload(weight).ok());
  std::vector<float> normed(rows * cols);
  cpu::RmsNorm(embedded.data(), weight.data(), rows, cols, 1e-6f, normed.data());
  ASSERT_TRUE(d_bf16.Allocate(rows * cols * 2).ok());
  ASSERT_EQ(LaunchRmsNormToBf16(d_out.as<float>(), d_weight.as<float>(), rows, cols, 1e-6f,
                                d_bf16.as<uint16_t>(), nullptr),
            cudaSuccess);
  Sync();
  ExpectBf16Near(Download<uint16_t>(d_bf16, rows * cols), normed);

  // h = (h + RMSNorm(x) * w) * scalar.
  const std::vector<float> h = Random(rows * cols, 3);
  ASSERT_TRUE(d_h.Upload(h).ok());
  ASSERT_EQ(LaunchRmsNormResidual(d_out.as<float>(), d_weight.as<float>(), rows, cols, 1e-6f, 0.75f,
                                  d_h.as<float>(), nullptr),
            cudaSuccess);
  Sync();
  std::vector<float> expected(rows * cols);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = (h[i] + normed[i]) * 0.75f;
  ExpectF32Near(Download<float>(d_h, rows * cols), expected, 1e-5f);
}

TEST_F(KernelsTest, QkvNormRopeMatchesTheCpuEngine) {
  for (bool v_is_k : {false, true}) {
    const int rows = 3, heads = 4, kv_heads = 2, d = 64, rotated = 8;  // Proportional-style.
    const std::vector<int32_t> positions = {0, 7, 1000};
    std::vector<float> q = Random(rows * heads * d, 4), k = Random(rows * kv_heads * d, 5);
    std::vector<float> v = v_is_k ? std::vector<float>(k.size()) : Random(k.size(), 6);
    const std::vector<float> q_norm = Random(d, 7), k_norm = Random(d, 8);
    std::vector<float> inv_freq(rotated);
    for (int i = 0; i < rotated; ++i) inv_freq[i] = 1.f / std::pow(1e6f, 2.f * i / d);
    DeviceBuffer dq, dk, dv, dqn, dkn, dpos, dfreq;
    ASSERT_TRUE(dq.Upload(q).ok() && dk.Upload(k).ok() && dv.Upload(v).ok());
    ASSERT_TRUE(dqn.Upload(q_norm).ok() && dkn.Upload(k_norm).ok());
    ASSERT_TRUE(dpos.Upload(positions).ok() && dfreq.Upload(inv_freq).ok());
    ASSERT_EQ(LaunchQkvNormRope(dq.as<float>(), dk.as<float>(), dv.as<float>(), dqn.as<float>(),
                                dkn.as<float>(), dpos.as<int32_t>(), dfreq.as<float>(), rows, heads,
                                kv_heads, d, rotated, 1e-6f, v_is_k, nullptr),
              cudaSuccess);
    Sync();
    if (v_is_k) v = k;  // The raw K projection.
    cpu::RmsNorm(q.data(), q_norm.data(), rows * heads, d, 1e-6f, q.data());
    cpu::RmsNorm(k.data(), k_norm.data(), rows * kv_heads, d, 1e-6f, k.data());
    cpu::RmsNorm(v.data(), nullptr, rows * kv_heads, d, 1e-6f, v.data());
    for (int r = 0; r < rows; ++r) {
      cpu::ApplyRope(&q[r * heads * d], heads, d, rotated, inv_freq.data(), positions[r]);
      cpu::ApplyRope(&k[r * kv_heads * d], kv_heads, d, rotated, inv_freq.data(), positions[r]);
    }
    ExpectF32Near(Download<float>(dq, q.size()), q, 1e-4f);
    ExpectF32Near(Download<float>(dk, k.size()), k, 1e-4f);
    ExpectF32Near(Download<float>(dv, v.size()), v, 1e-5f);
  }
}

TEST_F(KernelsTest, PagedAttentionMatchesNaiveAttention) {
  for (int d : {32, 256, 512}) {
    const int heads = 4, kv_heads = 2, slots = 40, width = kv_heads * d;
    const std::vector<float> keys = Random(slots * width, 9), values = Random(slots * width, 10);
    // Two rows: keys 3..20 and 0..0, scattered over physical slots.
    std::vector<int32_t> key_slots(slots);
    for (int j = 0; j < slots; ++j) key_slots[j] = (j * 7) % slots;
    const std::vector<int32_t> first = {3, 0}, last = {20, 0}, base = {0, 25};
    const int rows = 2;
    const std::vector<float> q = Random(rows * heads * d, 11, 0.2f);
    DeviceBuffer dk, dv, dq, df, dl, db, ds, dout;
    const std::vector<uint16_t> k16 = ToBf16(keys), v16 = ToBf16(values);
    ASSERT_TRUE(dk.Upload(k16).ok() && dv.Upload(v16).ok() && dq.Upload(q).ok());
    ASSERT_TRUE(df.Upload(first).ok() && dl.Upload(last).ok() && db.Upload(base).ok() &&
                ds.Upload(key_slots).ok());
    ASSERT_TRUE(dout.Allocate(rows * heads * d * 2).ok());
    ASSERT_EQ(
        LaunchPagedAttention(dq.as<float>(), dk.as<uint16_t>(), dv.as<uint16_t>(), df.as<int32_t>(),
                             dl.as<int32_t>(), db.as<int32_t>(), ds.as<int32_t>(), rows, heads,
                             kv_heads, d, AttentionSplits{}, nullptr, dout.as<uint16_t>(), nullptr),
        cudaSuccess);
    Sync();
    // Split-K (row 0's 18 keys in runs of 5; row 1's later runs are empty) gives the same.
    AttentionSplits split;
    split.splits = 4;
    split.scratch_floats = size_t(rows) * heads * split.splits * (2 + d);
    DeviceBuffer scratch, dsplit;
    ASSERT_TRUE(scratch.Allocate(split.scratch_floats * 4).ok());
    ASSERT_TRUE(dsplit.Allocate(rows * heads * d * 2).ok());
    ASSERT_EQ(LaunchPagedAttention(dq.as<float>(), dk.as<uint16_t>(), dv.as<uint16_t>(),
                                   df.as<int32_t>(), dl.as<int32_t>(), db.as<int32_t>(),
                                   ds.as<int32_t>(), rows, heads, kv_heads, d, split,
                                   scratch.as<float>(), dsplit.as<uint16_t>(), nullptr),
              cudaSuccess);
    Sync();
    std::vector<float> expected(rows * heads * d, 0.f);
    for (int r = 0; r < rows; ++r) {
      for (int head = 0; head < heads; ++head) {
        const int kv = head / (heads / kv_heads);
        std::vector<float> scores;
        for (int j = first[r]; j <= last[r]; ++j) {
          const int slot = key_slots[base[r] + j];
          double dot = 0;
          for (int e = 0; e < d; ++e) {
            dot += q[(r * heads + head) * d + e] * FromBf16(k16[slot * width + kv * d + e]);
          }
          scores.push_back(static_cast<float>(dot));
        }
        cpu::Softmax(scores.data(), static_cast<int>(scores.size()));
        for (int j = first[r]; j <= last[r]; ++j) {
          const int slot = key_slots[base[r] + j];
          for (int e = 0; e < d; ++e) {
            expected[(r * heads + head) * d + e] +=
                scores[j - first[r]] * FromBf16(v16[slot * width + kv * d + e]);
          }
        }
      }
    }
    ExpectBf16Near(Download<uint16_t>(dout, expected.size()), expected);
    ExpectBf16Near(Download<uint16_t>(dsplit, expected.size()), expected);
  }
}

TEST_F(KernelsTest, GeluGateSoftcapGatherAndStore) {
  const int64_t n = 3000;
  const std::vector<float> gate = Random(n, 12, 3.f), up = Random(n, 13);
  DeviceBuffer dg, du, dout;
  ASSERT_TRUE(dg.Upload(gate).ok() && du.Upload(up).ok() && dout.Allocate(n * 2).ok());
  ASSERT_EQ(LaunchGeluGate(dg.as<float>(), du.as<float>(), n, dout.as<uint16_t>(), nullptr),
            cudaSuccess);
  Sync();
  std::vector<float> expected(n);
  cpu::GeluGate(gate.data(), up.data(), n, cpu::Gelu::kTanh, expected.data());
  ExpectBf16Near(Download<uint16_t>(dout, n), expected);

  std::vector<float> logits = Random(n, 14, 40.f);
  DeviceBuffer dl;
  ASSERT_TRUE(dl.Upload(logits).ok());
  ASSERT_EQ(LaunchSoftcap(dl.as<float>(), n, 30.f, nullptr), cudaSuccess);
  Sync();
  cpu::Softcap(logits.data(), n, 30.f);
  ExpectF32Near(Download<float>(dl, n), logits, 1e-5f);

  // Two ranks' vocabulary slices of 3 rows: [rank, row, 500] -> [row, 1000].
  DeviceBuffer dinterleaved;
  ASSERT_TRUE(dinterleaved.Allocate(3 * 1000 * 4).ok());
  ASSERT_EQ(LaunchInterleaveSlices(dl.as<float>(), 2, 3, 500, dinterleaved.as<float>(), nullptr),
            cudaSuccess);
  Sync();
  const std::vector<float> interleaved = Download<float>(dinterleaved, 3000);
  for (int row = 0; row < 3; ++row) {
    for (int rank = 0; rank < 2; ++rank) {
      EXPECT_EQ(interleaved[row * 1000 + rank * 500 + 7], logits[(rank * 3 + row) * 500 + 7]);
    }
  }

  // Gather rows 2 and 0 of a [3, 1000] matrix; store two K/V rows at slots 5 and 1.
  const std::vector<int32_t> rows = {2, 0}, slots = {5, 1};
  DeviceBuffer dr, dgathered, ds, dck, dcv;
  ASSERT_TRUE(dr.Upload(rows).ok() && dgathered.Allocate(2 * 1000 * 4).ok());
  ASSERT_EQ(
      LaunchGatherRows(dl.as<float>(), dr.as<int32_t>(), 2, 1000, dgathered.as<float>(), nullptr),
      cudaSuccess);
  Sync();
  const std::vector<float> gathered = Download<float>(dgathered, 2000);
  EXPECT_EQ(std::vector<float>(gathered.begin(), gathered.begin() + 1000),
            std::vector<float>(logits.begin() + 2000, logits.begin() + 3000));
  ASSERT_TRUE(ds.Upload(slots).ok() && dck.Allocate(6 * 1000 * 2).ok() &&
              dcv.Allocate(6 * 1000 * 2).ok());
  ASSERT_EQ(LaunchStoreKv(dl.as<float>(), dg.as<float>(), ds.as<int32_t>(), 2, 1000,
                          dck.as<uint16_t>(), dcv.as<uint16_t>(), nullptr),
            cudaSuccess);
  Sync();
  const std::vector<uint16_t> ck = Download<uint16_t>(dck, 6000),
                              cv = Download<uint16_t>(dcv, 6000);
  for (int e = 0; e < 1000; ++e) {
    EXPECT_EQ(ck[5 * 1000 + e], F32ToBf16(logits[e]));
    EXPECT_EQ(cv[1 * 1000 + e], F32ToBf16(gate[1000 + e]));
  }
}

TEST_F(KernelsTest, GemmMatchesAMatMulOfTheSameBf16Values) {
  auto gemm = Gemm::Create();
  ASSERT_TRUE(gemm.ok()) << gemm.status();
  for (auto [m, n, k] : {std::tuple{1, 384, 256}, {7, 1000, 512}, {64, 256, 1024}}) {
    const std::vector<float> w = Random(size_t(n) * k, 15), x = Random(size_t(m) * k, 16);
    const std::vector<uint16_t> w16 = ToBf16(w), x16 = ToBf16(x);
    DeviceBuffer dw, dx, dy;
    ASSERT_TRUE(dw.Upload(w16).ok() && dx.Upload(x16).ok() && dy.Allocate(size_t(m) * n * 4).ok());
    ASSERT_TRUE(
        gemm->Run(dw.as<uint16_t>(), dx.as<uint16_t>(), dy.as<float>(), m, n, k, nullptr).ok());
    Sync();
    const std::vector<float> y = Download<float>(dy, size_t(m) * n);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double sum = 0;
        for (int e = 0; e < k; ++e)
          sum += double(FromBf16(w16[j * k + e])) * FromBf16(x16[i * k + e]);
        ASSERT_NEAR(y[i * n + j], sum, 1e-3 * std::sqrt(double(k))) << m << "x" << n << "x" << k;
      }
    }
  }
}

}  // namespace
}  // namespace gemma::cuda
