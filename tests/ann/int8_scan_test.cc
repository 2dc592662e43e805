// The int8 first pass: close to the float scores, the same sums from the VNNI
// kernel and the portable one, dimensions that are not a multiple of four.
#include "ann/int8_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace embedrec::ann {
namespace {

struct Chunk {
  std::vector<float> rows;  // kChunk × d
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
};

Chunk MakeChunk(int d, std::mt19937& rng, int written = kChunk) {
  std::normal_distribution<float> normal;
  Chunk c;
  c.rows.resize(static_cast<size_t>(kChunk) * d);
  c.bytes.assign(static_cast<size_t>(Int8ChunkBytes(d)), 0);
  c.scales.assign(kChunk, 0.0f);
  for (int t = 0; t < kChunk; ++t) {
    const float norm = 0.2f + static_cast<float>(t % 7);  // rows of different lengths
    for (int j = 0; j < d; ++j) c.rows[t * d + j] = t < written ? norm * normal(rng) : 0.0f;
    if (t < written) PutInt8Row(&c.rows[t * d], d, t, c.bytes.data(), c.scales.data());
  }
  return c;
}

TEST(Int8ScanTest, ScoresAreCloseToTheFloatDotProducts) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (int d : {1, 3, 4, 17, 64, 129}) {
    const Chunk c = MakeChunk(d, rng);
    std::vector<float> q(d);
    for (auto& x : q) x = normal(rng);
    Int8Query q8;
    QuantizeQuery(q.data(), d, &q8);
    float out[kChunk];
    Int8ChunkScores(c.bytes.data(), c.scales.data(), q8, out);
    for (int t = 0; t < kChunk; ++t) {
      double exact = 0, bound = 0;
      for (int j = 0; j < d; ++j) {
        exact += static_cast<double>(q[j]) * c.rows[t * d + j];
        bound += std::abs(q[j]) * c.scales[t] + std::abs(c.rows[t * d + j]) * q8.scale;
      }
      // Each coordinate is off by at most half a step of its scale.
      EXPECT_NEAR(out[t], exact, 0.5 * bound + 1e-5) << "d " << d << ", row " << t;
    }
  }
}

TEST(Int8ScanTest, TheVnniKernelAndThePortableOneAgreeExactly) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  if (!internal::Int8HasVnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  for (int d : {4, 31, 64, 200}) {
    const Chunk c = MakeChunk(d, rng);
    std::vector<float> q(d);
    for (auto& x : q) x = normal(rng);
    Int8Query q8;
    QuantizeQuery(q.data(), d, &q8);
    float vnni[kChunk], portable[kChunk];
    Int8ChunkScores(c.bytes.data(), c.scales.data(), q8, vnni);
    internal::Int8ChunkScoresPortable(c.bytes.data(), c.scales.data(), q8, portable);
    for (int t = 0; t < kChunk; ++t) EXPECT_EQ(vnni[t], portable[t]) << "d " << d << ", row " << t;
  }
}

TEST(Int8ScanTest, UnwrittenSlotsAndAZeroQueryScoreZero) {
  std::mt19937 rng(9);
  const int d = 16;
  const Chunk c = MakeChunk(d, rng, /*written=*/10);
  std::vector<float> q(d, 0.5f), zero(d, 0.0f);
  Int8Query q8;
  float out[kChunk];
  QuantizeQuery(q.data(), d, &q8);
  Int8ChunkScores(c.bytes.data(), c.scales.data(), q8, out);
  for (int t = 10; t < kChunk; ++t) EXPECT_EQ(out[t], 0.0f) << t;
  QuantizeQuery(zero.data(), d, &q8);
  Int8ChunkScores(c.bytes.data(), c.scales.data(), q8, out);
  for (int t = 0; t < kChunk; ++t) EXPECT_EQ(out[t], 0.0f) << t;
}

TEST(Int8ScanTest, TheLargestCoordinateIsKeptExactlyAtFullScale) {
  const int d = 8;
  std::vector<float> row = {0.1f, -2.0f, 0.5f, 0, 0, 0, 0, 0};
  std::vector<uint8_t> bytes(static_cast<size_t>(Int8ChunkBytes(d)), 0);
  std::vector<float> scales(kChunk, 0.0f);
  PutInt8Row(row.data(), d, 5, bytes.data(), scales.data());
  EXPECT_FLOAT_EQ(scales[5], 2.0f / 127);
  // Dimension 1 of row 5: group 0, byte 4·5 + 1, stored +128.
  EXPECT_EQ(bytes[4 * 5 + 1], 128 - 127);
  std::vector<float> q = {0, 1, 0, 0, 0, 0, 0, 0};
  Int8Query q8;
  QuantizeQuery(q.data(), d, &q8);
  float out[kChunk];
  Int8ChunkScores(bytes.data(), scales.data(), q8, out);
  EXPECT_NEAR(out[5], -2.0f, 1e-5);
}

}  // namespace
}  // namespace embedrec::ann
