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
  o.large_index = "hnsw";
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

// Rows around `clusters` centres (catalogs cluster by category and taste).
std::vector<float> ClusteredRows(int64_t n, int d, int clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  auto centres = RandomRows(clusters, d, seed + 1);
  std::vector<float> v(n * d);
  for (int64_t i = 0; i < n; ++i) {
    const float* c = centres.data() + (rng() % clusters) * d;
    for (int j = 0; j < d; ++j) v[i * d + j] = c[j] + 0.5f * normal(rng);
  }
  return v;
}

TEST(ItemIndexTest, IvfIsTheDefaultAboveTheExactLimitWithHighRecallOnClusteredItems) {
  const int d = 32, n = 20000;
  auto rows = ClusteredRows(n, d, 200, 7);
  IndexOptions o;
  o.exact_max_items = 1000;
  auto index = BuildItemIndex(rows.data(), n, d, o);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->kind(), "ivf_ip");
  EXPECT_EQ((*index)->params_json(), "{\"metric\":\"inner_product\",\"lists\":256,\"probes\":64}");
  auto queries = ClusteredRows(100, d, 200, 7 + 100);
  ItemIndex::Filter even = [](int64_t i) { return i % 2 == 0; };
  int hits = 0, filtered_hits = 0;
  for (int t = 0; t < 100; ++t) {
    const float* q = queries.data() + t * d;
    auto got = (*index)->Search(q, 10, nullptr);
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].second, got[i].second);
    auto want = TopK(rows, d, q, 10, nullptr);
    for (auto id : Ids(got)) hits += std::count(want.begin(), want.end(), id);
    auto fgot = Ids((*index)->Search(q, 10, &even));
    ASSERT_EQ(fgot.size(), 10u);
    for (auto id : fgot) EXPECT_EQ(id % 2, 0);
    auto fwant = TopK(rows, d, q, 10, &even);
    for (auto id : fgot) filtered_hits += std::count(fwant.begin(), fwant.end(), id);
  }
  EXPECT_GE(hits / 1000.0, 0.95);
  EXPECT_GE(filtered_hits / 1000.0, 0.95);
}

TEST(ItemIndexTest, IvfProbingEveryListIsExactAndANarrowFilterStillFillsK) {
  const int d = 16, n = 3000;
  auto rows = RandomRows(n, d, 8);
  IndexOptions o;
  o.exact_max_items = 100;
  o.ivf_lists = 32;
  o.ivf_probes = 32;
  auto all = BuildItemIndex(rows.data(), n, d, o);
  ASSERT_TRUE(all.ok());
  auto q = RandomRows(1, d, 9);
  EXPECT_EQ(Ids((*all)->Search(q.data(), 10, nullptr)), TopK(rows, d, q.data(), 10, nullptr));
  // One list probed: a filter admitting 1 item in 300 makes it probe until k are found.
  o.ivf_probes = 1;
  auto one = BuildItemIndex(rows.data(), n, d, o);
  ASSERT_TRUE(one.ok());
  ItemIndex::Filter rare = [](int64_t i) { return i % 300 == 11; };
  EXPECT_EQ(Ids((*one)->Search(q.data(), 10, &rare)), TopK(rows, d, q.data(), 10, &rare));
  ItemIndex::Filter three = [](int64_t i) { return i < 3; };
  EXPECT_EQ(Ids((*one)->Search(q.data(), 10, &three)).size(), 3u);
}

TEST(ItemIndexTest, RoundTripsThroughBytesAndRefusesDamage) {
  const int d = 8;
  auto rows = RandomRows(500, d, 5);
  for (auto [limit, large] : {std::pair<int64_t, const char*>{1000, "ivf"}, {10, "ivf"}, {10, "hnsw"}}) {
    IndexOptions o;
    o.exact_max_items = limit;
    o.large_index = large;
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
