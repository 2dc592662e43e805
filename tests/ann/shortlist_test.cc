// The shortlist both first passes share: at least the w best of n scores,
// by a sampled threshold or, when the sample misjudged it, over every score,
// and a bound on every score it left out.
#include "ann/shortlist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

namespace embedrec::ann {
namespace {

void ExpectShortlist(const std::vector<float>& scores, int64_t w, bool keep_extra, const char* what);

std::vector<Scored> Truth(const std::vector<float>& scores, int64_t w) {
  std::vector<Scored> all;
  for (int64_t i = 0; i < static_cast<int64_t>(scores.size()); ++i) all.emplace_back(scores[i], i);
  std::sort(all.begin(), all.end(), Better);
  all.resize(std::min<size_t>(w, all.size()));
  return all;
}

void ExpectShortlist(const std::vector<float>& scores, int64_t w, const char* what) {
  for (bool extra : {false, true}) ExpectShortlist(scores, w, extra, what);
}

void ExpectShortlist(const std::vector<float>& scores, int64_t w, bool keep_extra, const char* what) {
  std::vector<Scored> got;
  const int64_t n = static_cast<int64_t>(scores.size());
  const float left_out = Shortlist(scores.data(), n, w, &got, keep_extra);
  if (!keep_extra) {  // exactly the w best
    EXPECT_EQ(static_cast<int64_t>(got.size()), std::min(n, w)) << what << ", n " << n << ", w " << w;
  }
  const std::vector<Scored> want = Truth(scores, w);
  std::sort(got.begin(), got.end(), Better);
  // Every one of the w best, each candidate once, not many more than asked.
  EXPECT_TRUE(std::includes(got.begin(), got.end(), want.begin(), want.end(), Better))
      << what << ", n " << n << ", w " << w;
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << what;
  EXPECT_LE(static_cast<int64_t>(got.size()), std::min(n, 4 * w + 64))
      << what << ", n " << n << ", w " << w;
  // What a search reads as the best score left out bounds every one left out
  // (−∞: nothing but padding, −∞ too, was left out).
  std::vector<bool> in(n, false);
  for (const auto& [s, i] : got) in[i] = true;
  for (int64_t i = 0; i < n; ++i) {
    if (!in[i]) {
      ASSERT_LE(scores[i], left_out) << what << ", n " << n << ", w " << w << ", position " << i;
    }
  }
}

TEST(ShortlistTest, IsTheExactBestWhateverTheLayoutOfTheScores) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int64_t n : {1, 63, 64, 1000, 6000, 20000, 150000}) {
    std::vector<float> random(n), ascending(n), descending(n), ties(n), padded(n);
    for (int64_t i = 0; i < n; ++i) {
      random[i] = normal(rng);
      ties[i] = static_cast<float>(rng() % 3);  // thousands of equal scores: the lower position wins
      padded[i] = i % 64 >= 40 ? -std::numeric_limits<float>::infinity() : random[i];
    }
    ascending = random;
    std::sort(ascending.begin(), ascending.end());  // the sample's picture of the best is all wrong
    descending.assign(ascending.rbegin(), ascending.rend());
    for (int64_t w : {int64_t{1}, int64_t{10}, int64_t{64}, int64_t{800}, n / 16, n}) {
      if (w <= 0) continue;
      ExpectShortlist(random, w, "random");
      ExpectShortlist(ascending, w, "ascending");
      ExpectShortlist(descending, w, "descending");
      ExpectShortlist(ties, w, "ties");
      ExpectShortlist(padded, w, "padding");
    }
  }
}

TEST(ShortlistTest, ManyCandidatesBelowAFewBestOnes) {
  // Clustered: one list of high scores among many low ones (the IVF case).
  std::vector<float> scores(143000, -1.0f);
  std::mt19937 rng(3);
  for (int i = 0; i < 900; ++i) scores[rng() % scores.size()] = 1.0f + static_cast<float>(rng() % 1000) / 1000;
  for (int64_t w : {64, 800, 4000}) ExpectShortlist(scores, w, "clustered");
  // The best scores exactly where an even sample looks: its bound is too
  // high, too few pass it, and every score is gathered.
  std::vector<float> fooled(150000, 0.0f);
  for (int64_t j = 0; j < 1024; ++j) fooled[j * 150000 / 1024] = 2.0f;
  for (int64_t w : {800, 2000}) ExpectShortlist(fooled, w, "sampled positions best");
}

}  // namespace
}  // namespace embedrec::ann
