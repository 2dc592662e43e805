#include "serving/category_trending.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace embedrec::serving {
namespace {

using Ranked = std::vector<std::pair<uint32_t, double>>;

CatalogSnapshot MakeCatalog(int n, int categories, uint64_t generation) {
  CatalogSnapshot c;
  c.generation = generation;
  for (int i = 0; i < n; ++i) {
    CatalogItem item;
    // Ids not in position order, so that ties by id and by position differ.
    item.item_id = "item-" + std::to_string((i * 37) % n);
    item.category = "c" + std::to_string(i % categories);
    c.index[item.item_id] = i;
    c.by_category[item.category].push_back(static_cast<uint32_t>(i));
    c.items.push_back(std::move(item));
  }
  return c;
}

// Every item of the categories with the snapshot's score, sorted whole.
Ranked Expected(const CatalogSnapshot& c, const TrendingSnapshot& t, const std::set<std::string>& categories) {
  Ranked out;
  for (uint32_t pos = 0; pos < c.items.size(); ++pos) {
    if (categories.count(c.items[pos].category)) out.emplace_back(pos, t.Score(c.items[pos].item_id));
  }
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.second > 0 ? c.items[a.first].item_id < c.items[b.first].item_id : a.first < b.first;
  });
  return out;
}

Ranked Read(CategoryTrending& ct, const std::string& tenant, const std::set<std::string>& categories,
            const std::shared_ptr<const TrendingSnapshot>& t, const CatalogSnapshot& c, size_t limit = SIZE_MAX) {
  Ranked out;
  ct.ForEach(tenant, categories, t, c, [&](uint32_t pos, double s) {
    out.emplace_back(pos, s);
    return out.size() < limit;
  });
  return out;
}

// A snapshot over `base` with `changes` of the scores (ids may be unknown to the catalog).
std::shared_ptr<const TrendingSnapshot> Snapshot(std::shared_ptr<const TrendingSnapshot::Base> base,
                                                 const std::vector<std::pair<std::string, double>>& changes) {
  auto t = std::make_shared<TrendingSnapshot>();
  t->base = std::move(base);
  for (const auto& [id, s] : changes) t->changed_score[id] = s;
  t->changed.assign(t->changed_score.begin(), t->changed_score.end());
  std::sort(t->changed.begin(), t->changed.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  return t;
}

TEST(CategoryTrendingTest, MergesTheBaseAndEachSnapshotsChangesAsAWholeSortWould) {
  const CatalogSnapshot c = MakeCatalog(400, 5, 1);
  std::mt19937 rng(7);
  auto base = std::make_shared<TrendingSnapshot::Base>();
  for (const auto& item : c.items) {
    const int r = static_cast<int>(rng() % 10);
    if (r < 3) continue;                                    // nobody touched it
    base->score[item.item_id] = r < 6 ? 1.0 : 1.0 + r;      // many ties
  }
  base->ranked.assign(base->score.begin(), base->score.end());
  CategoryTrending ct;
  std::shared_ptr<const TrendingSnapshot::Base> shared = base;
  for (int round = 0; round < 6; ++round) {
    std::vector<std::pair<std::string, double>> changes;
    for (int k = 0; k < 20 * round; ++k) {
      changes.emplace_back(c.items[rng() % c.items.size()].item_id, static_cast<double>(rng() % 12));
    }
    changes.emplace_back("not-in-the-catalog", 50.0);
    auto t = Snapshot(shared, changes);
    for (const std::set<std::string>& cats : {std::set<std::string>{"c1"}, std::set<std::string>{"c0", "c3"},
                                              std::set<std::string>{"none"}}) {
      const Ranked expected = Expected(c, *t, cats);
      EXPECT_EQ(Read(ct, "tenant", cats, t, c), expected) << "round " << round;
      // Stopping early gives the same first entries.
      const Ranked first = Read(ct, "tenant", cats, t, c, 7);
      EXPECT_EQ(first, Ranked(expected.begin(), expected.begin() + std::min<size_t>(7, expected.size())));
    }
  }
}

TEST(CategoryTrendingTest, ANewBaseOrCatalogIsReadAgain) {
  CatalogSnapshot c = MakeCatalog(50, 2, 1);
  CategoryTrending ct;
  auto base = std::make_shared<TrendingSnapshot::Base>();
  base->score[c.items[4].item_id] = 2;
  auto t = Snapshot(base, {});
  EXPECT_EQ(Read(ct, "tenant", {"c0"}, t, c, 1), (Ranked{{4, 2.0}}));
  // The same base object's scores never change; a new base replaces it.
  auto base2 = std::make_shared<TrendingSnapshot::Base>();
  base2->score[c.items[8].item_id] = 3;
  auto t2 = Snapshot(base2, {});
  EXPECT_EQ(Read(ct, "tenant", {"c0"}, t2, c, 1), (Ranked{{8, 3.0}}));
  // A new catalog (another generation) with the same base: its positions.
  CatalogSnapshot c2 = MakeCatalog(50, 2, 2);
  std::swap(c2.items[8], c2.items[10]);
  c2.index[c2.items[8].item_id] = 8;
  c2.index[c2.items[10].item_id] = 10;
  EXPECT_EQ(Read(ct, "tenant", {"c0"}, t2, c2, 1), (Ranked{{10, 3.0}}));
  // Forgotten: read again, the same answer.
  ct.Drop("tenant");
  EXPECT_EQ(Read(ct, "tenant", {"c0"}, t2, c2, 1), (Ranked{{10, 3.0}}));
}

}  // namespace
}  // namespace embedrec::serving
