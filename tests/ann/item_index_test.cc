#include "ann/item_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace embedrec::ann {
namespace {

std::vector<float> RandomRows(int64_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n * d);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Brute-force top k by inner product among allowed rows.
std::vector<int64_t> TopK(const std::vector<float>& rows, int d, const float* q, int k,
                          const ItemIndex::Filter* allowed) {
  std::vector<std::pair<float, int64_t>> s;
  for (int64_t i = 0; i < static_cast<int64_t>(rows.size()) / d; ++i) {
    if (allowed && !(*allowed)(i)) continue;
    float dot = 0;
    for (int j = 0; j < d; ++j) dot += rows[i * d + j] * q[j];
    s.emplace_back(-dot, i);
  }
  std::sort(s.begin(), s.end());
  std::vector<int64_t> out;
  for (int i = 0; i < k && i < static_cast<int>(s.size()); ++i) out.push_back(s[i].second);
  return out;
}

std::vector<int64_t> Ids(const std::vector<std::pair<int64_t, float>>& r) {
  std::vector<int64_t> out;
  for (auto& [id, score] : r) out.push_back(id);
  return out;
}

TEST(ItemIndexTest, ExactSearchMatchesBruteForceWithAndWithoutAFilter) {
  const int d = 16;
  auto rows = RandomRows(3000, d, 1);
  auto index = BuildItemIndex(rows.data(), 3000, d, {});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->kind(), "exact_ip");
  auto q = RandomRows(1, d, 2);
  auto got = (*index)->Search(q.data(), 10, nullptr);
  EXPECT_EQ(Ids(got), TopK(rows, d, q.data(), 10, nullptr));
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].second, got[i].second);
  // A narrow filter (1 item in 100) still fills k.
  ItemIndex::Filter every100 = [](int64_t i) { return i % 100 == 7; };
  got = (*index)->Search(q.data(), 10, &every100);
  EXPECT_EQ(Ids(got), TopK(rows, d, q.data(), 10, &every100));
  // Fewer allowed than k: all of them, no padding.
  ItemIndex::Filter three = [](int64_t i) { return i < 3; };
  EXPECT_EQ(Ids((*index)->Search(q.data(), 10, &three)).size(), 3u);
}

TEST(ItemIndexTest, HnswAboveTheExactLimitHasHighRecallAndHonoursFilters) {
  const int d = 32, n = 5000;
  auto rows = RandomRows(n, d, 3);
  IndexOptions o;
  o.exact_max_items = 1000;
  o.hnsw_ef_construction = 64;
  auto index = BuildItemIndex(rows.data(), n, d, o);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->kind(), "hnsw_ip");
  EXPECT_NE((*index)->params_json().find("\"M\":32"), std::string::npos);
  auto queries = RandomRows(50, d, 4);
  ItemIndex::Filter even = [](int64_t i) { return i % 2 == 0; };
  int hits = 0, filtered_hits = 0;
  for (int t = 0; t < 50; ++t) {
    const float* q = queries.data() + t * d;
    auto want = TopK(rows, d, q, 10, nullptr);
    auto got = Ids((*index)->Search(q, 10, nullptr));
    for (auto id : got) hits += std::count(want.begin(), want.end(), id);
    auto fgot = Ids((*index)->Search(q, 10, &even));
    for (auto id : fgot) EXPECT_EQ(id % 2, 0);
    auto fwant = TopK(rows, d, q, 10, &even);
    for (auto id : fgot) filtered_hits += std::count(fwant.begin(), fwant.end(), id);
  }
  EXPECT_GE(hits / 500.0, 0.9);
  EXPECT_GE(filtered_hits / 500.0, 0.9);
}

TEST(ItemIndexTest, RoundTripsThroughBytesAndRefusesDamage) {
  const int d = 8;
  auto rows = RandomRows(500, d, 5);
  for (int64_t limit : {int64_t{1000}, int64_t{10}}) {
    IndexOptions o;
    o.exact_max_items = limit;
    auto index = BuildItemIndex(rows.data(), 500, d, o);
    ASSERT_TRUE(index.ok());
    auto bytes = (*index)->Serialize();
    ASSERT_TRUE(bytes.ok());
    auto back = LoadItemIndex(*bytes, o);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ((*back)->kind(), (*index)->kind());
    auto q = RandomRows(1, d, 6);
    EXPECT_EQ(Ids((*back)->Search(q.data(), 5, nullptr)), Ids((*index)->Search(q.data(), 5, nullptr)));
    std::string cut = bytes->substr(0, bytes->size() - 9);
    EXPECT_EQ(LoadItemIndex(cut, o).status().code(), StatusCode::kFailedPrecondition);
    std::string flipped = *bytes;
    flipped[flipped.size() / 2] ^= 1;
    EXPECT_EQ(LoadItemIndex(flipped, o).status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(LoadItemIndex("garbage", o).status().code(), StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace embedrec::ann
