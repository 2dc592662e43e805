#include "ann/exact_scan.h"
#include "ann/shortlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace embedrec::ann {
namespace {

// Brute force with the scanner's own float dot product order is not
// guaranteed; compare scores to double-precision truth instead.
std::vector<std::pair<int64_t, double>> Truth(const std::vector<float>& rows, int d, const float* q,
                                              int k, const std::function<bool(int64_t)>* allowed) {
  std::vector<std::pair<int64_t, double>> all;
  for (int64_t i = 0; i < static_cast<int64_t>(rows.size()) / d; ++i) {
    if (allowed && !(*allowed)(i)) continue;
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(rows[i * d + j]) * q[j];
    all.emplace_back(i, s);
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  all.resize(std::min<size_t>(k, all.size()));
  return all;
}

TEST(ExactScannerTest, MatchesTheTruthDespiteTheInt8FirstPass) {
  const int d = 32, n = 5000;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal;
  std::vector<float> rows(n * d);
  for (auto& x : rows) x = normal(rng);
  // Near-duplicates: scores that int8 alone could not tell apart.
  for (int j = 0; j < d; ++j) rows[7 * d + j] = rows[3 * d + j] * (1 + 1e-4f);
  ExactScanner scan(rows.data(), n, d);
  const std::function<bool(int64_t)> rare = [](int64_t i) { return i % 97 == 5; };
  // A filter that admits a fifth: the k allowed lie past the first 2k sorted.
  const std::function<bool(int64_t)> fifth = [](int64_t i) { return i % 5 == 2; };
  for (int t = 0; t < 60; ++t) {
    std::vector<float> q(d);
    for (auto& x : q) x = normal(rng);
    if (t == 0) q.assign(rows.begin() + 3 * d, rows.begin() + 4 * d);  // the near-duplicates lead
    const std::function<bool(int64_t)>* none = nullptr;
    for (const auto& [f, k] : std::vector<std::pair<const std::function<bool(int64_t)>*, int>>{
             {none, 10}, {&rare, 10}, {none, 200}, {&fifth, 100}}) {
      auto got = scan.TopK(q.data(), k, f);
      auto want = Truth(rows, d, q.data(), k, f);
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        EXPECT_EQ(got[r].first, want[r].first) << "query " << t << " rank " << r;
        EXPECT_NEAR(got[r].second, want[r].second, 1e-3 * std::max(1.0, std::fabs(want[r].second)));
      }
    }
  }
}

TEST(ExactScannerTest, RowsTheFirstPassCannotTellApartAreStillRankedExactly) {
  // Every row one vector plus noise under an int8 step, of different
  // lengths: the first pass ties them, so the bound must widen the
  // shortlist until the exact scores decide.
  const int d = 16, n = 3000;
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal;
  std::vector<float> base(d), rows(n * d);
  for (auto& x : base) x = normal(rng);
  for (int i = 0; i < n; ++i) {
    const float len = i % 3 == 0 ? 1.0f : 1e-3f;
    for (int j = 0; j < d; ++j) rows[i * d + j] = len * (base[j] + 1e-3f * normal(rng));
  }
  ExactScanner scan(rows.data(), n, d);
  for (int t = 0; t < 5; ++t) {
    std::vector<float> q(base);
    for (auto& x : q) x += 0.1f * normal(rng);
    auto got = scan.TopK(q.data(), 20, nullptr);
    auto want = Truth(rows, d, q.data(), 20, nullptr);
    ASSERT_EQ(got.size(), want.size());
    // Rank by rank the truth's score, to float precision (rows whose scores
    // differ in the seventh digit may swap: the re-scoring is float32).
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_NEAR(got[r].second, want[r].second, 1e-6 * std::fabs(want[r].second)) << "query " << t << " rank " << r;
    }
  }
}

TEST(ExactScannerTest, EqualRowsRankByLowerIndexAndFewAllowedComeBackAll) {
  const int d = 8;
  std::vector<float> rows(100 * d, 0.5f);
  ExactScanner scan(rows.data(), 100, d);
  std::vector<float> q(d, 1.0f);
  auto got = scan.TopK(q.data(), 5, nullptr);
  ASSERT_EQ(got.size(), 5u);
  for (int r = 0; r < 5; ++r) EXPECT_EQ(got[r].first, r);
  std::function<bool(int64_t)> three = [](int64_t i) { return i >= 97; };
  got = scan.TopK(q.data(), 10, &three);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, 97);
}

TEST(ExactScannerTest, ScoresAreAnnDotBitForBit) {
  // Serving scores a category's rows with ann::Dot beside the searches:
  // the same item must get the same score either way. Widths with a tail
  // past the last 32 coordinates too.
  for (int d : {16, 64, 72}) {
    const int n = 9000;
    std::mt19937_64 rng(d);
    std::normal_distribution<float> normal;
    std::vector<float> rows(static_cast<size_t>(n) * d), q(d);
    for (auto& x : rows) x = normal(rng);
    for (auto& x : q) x = normal(rng);
    ExactScanner scan(rows.data(), n, d);
    for (int k : {10, 100}) {
      const auto got = scan.TopK(q.data(), k, nullptr);
      ASSERT_EQ(got.size(), static_cast<size_t>(k));
      for (const auto& [i, s] : got) {
        EXPECT_EQ(s, Dot(q.data(), rows.data() + i * d, d)) << "d " << d << ", k " << k << ", item " << i;
        EXPECT_EQ(s, Dot(rows.data() + i * d, q.data(), d)) << "either order";
      }
    }
  }
}

}  // namespace
}  // namespace embedrec::ann
