// One memory budget over what serving holds per tenant: least recently used
// tenants are dropped whole while the total (with the models) is over it;
// the caches report their bytes.
#include "serving/tenant_memory.h"

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "serving/activity.h"
#include "serving/catalog.h"
#include "tenant_fixture.h"

namespace embedrec::serving {
namespace {

using Part = TenantMemory::Part;

TEST(TenantMemoryTest, DropsTheLeastRecentlyUsedTenantsWholeOverTheBudget) {
  std::vector<std::string> evicted;
  TenantMemory m(1000, [&](const std::string& id) { evicted.push_back(id); });
  m.Set("a", Part::kCatalog, 300);
  m.Set("b", Part::kCatalog, 300);
  m.Set("c", Part::kActivity, 300);
  EXPECT_TRUE(evicted.empty());
  m.Touch("a");                      // b is now the least recently used
  m.Set("d", Part::kCatalog, 200);   // 1,100: one must go
  EXPECT_EQ(evicted, (std::vector<std::string>{"b"}));
  auto u = m.usage();
  EXPECT_EQ(u.tenants, 3);
  EXPECT_EQ(u.catalog_bytes, 500);
  EXPECT_EQ(u.activity_bytes, 300);
  EXPECT_EQ(u.evictions, 1);
  EXPECT_EQ(u.budget, 1000);
  m.Set("a", Part::kActivity, 400);  // 1,200: c, the oldest, goes; a (700) and d (200) fit
  EXPECT_EQ(evicted, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(m.usage().tenants, 2);
  m.Set("d", Part::kActivity, 200);  // 1,100: a is older than d now
  EXPECT_EQ(evicted, (std::vector<std::string>{"b", "c", "a"}));
}

TEST(TenantMemoryTest, TheRecommendationLogsMemoryCountsWithTheRest) {
  std::vector<std::string> evicted;
  TenantMemory m(1000, [&](const std::string& id) { evicted.push_back(id); });
  m.Set("a", Part::kCatalog, 300);
  m.Set("b", Part::kCatalog, 100);
  m.Set("b", Part::kLog, 500);
  EXPECT_TRUE(evicted.empty());
  EXPECT_EQ(m.usage().log_bytes, 500);
  m.Set("b", Part::kLog, 700);  // 1,100: a, the older, goes
  EXPECT_EQ(evicted, (std::vector<std::string>{"a"}));
  m.Set("c", Part::kCatalog, 300);  // 1,100: b goes, its log's memory with it
  EXPECT_EQ(evicted, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.usage().log_bytes, 0);
  m.Set("b", Part::kLog, 700);  // a report racing b's drop: b is not brought back
  EXPECT_EQ(m.usage().log_bytes, 0);
  EXPECT_EQ(m.usage().tenants, 1);
}

TEST(TenantMemoryTest, TheTenantInUseIsKeptEvenAboveTheBudgetAlone) {
  std::vector<std::string> evicted;
  TenantMemory m(100, [&](const std::string& id) { evicted.push_back(id); });
  m.Set("small", Part::kCatalog, 50);
  m.Set("huge", Part::kCatalog, 500);
  EXPECT_EQ(evicted, (std::vector<std::string>{"small"}));
  m.Touch("huge");
  m.Set("huge", Part::kActivity, 100);
  EXPECT_EQ(evicted.size(), 1u);
  EXPECT_EQ(m.usage().catalog_bytes + m.usage().activity_bytes, 600);
}

TEST(TenantMemoryTest, ModelsCountAgainstTheBudgetAndATouchEnforcesIt) {
  int64_t models = 0;
  std::vector<std::string> evicted;
  TenantMemory m(1000, [&](const std::string& id) {
    evicted.push_back(id);
    models -= 400;  // its models went with it
  }, [&] { return models; });
  m.Set("a", Part::kCatalog, 100);
  m.Set("b", Part::kCatalog, 100);
  models = 900;  // loaded by DeployedModels, which tells nobody
  m.Touch("b");  // 1,100: a goes, and its models with it
  EXPECT_EQ(evicted, (std::vector<std::string>{"a"}));
  EXPECT_EQ(m.usage().models_bytes, 500);
  EXPECT_EQ(m.usage().catalog_bytes, 100);
}

TEST(TenantMemoryTest, ReleasesOfDroppedTenantsAreIgnoredAndForgetRemovesATenant) {
  TenantMemory* self = nullptr;
  TenantMemory m(100, [&](const std::string& id) {
    // The caches report their release from inside the drop: no deadlock, no new entry.
    self->Set(id, Part::kCatalog, 0);
    self->Set(id, Part::kActivity, 0);
  });
  self = &m;
  m.Set("a", Part::kCatalog, 80);
  m.Set("b", Part::kCatalog, 80);
  EXPECT_EQ(m.usage().tenants, 1);
  EXPECT_EQ(m.usage().catalog_bytes, 80);
  m.Set("ghost", Part::kActivity, 0);
  EXPECT_EQ(m.usage().tenants, 1);
  m.Forget("b");
  EXPECT_EQ(m.usage().tenants, 0);
  EXPECT_EQ(m.usage().catalog_bytes, 0);
}

TEST(TenantMemoryTest, NoBudgetCountsButNeverDrops) {
  bool dropped = false;
  TenantMemory m(0, [&](const std::string&) { dropped = true; });
  for (int i = 0; i < 100; ++i) m.Set("t" + std::to_string(i), Part::kCatalog, 1 << 20);
  EXPECT_FALSE(dropped);
  EXPECT_EQ(m.usage().catalog_bytes, 100 << 20);
}

TEST(TenantMemoryTest, ConcurrentUseKeepsTheCountsConsistent) {
  // Each tenant's bytes live in a map the evict callback clears, as the caches do.
  std::mutex mu;
  std::map<std::string, int64_t> held;
  TenantMemory* self = nullptr;
  TenantMemory m(10000, [&](const std::string& id) {
    {
      std::lock_guard lock(mu);
      held.erase(id);
    }
    self->Set(id, Part::kCatalog, 0);
  });
  self = &m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string id = "t" + std::to_string((i * 7 + t) % 40);
        if (i % 3 == 0) {
          m.Touch(id);
        } else {
          m.Set(id, Part::kCatalog, 500);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto u = m.usage();
  EXPECT_LE(u.catalog_bytes, 10000);
  EXPECT_GT(u.evictions, 0);
  EXPECT_EQ(u.catalog_bytes % 500, 0);
  EXPECT_LE(u.catalog_bytes, u.tenants * 500);
}

// The caches tell the budget what they hold.
class TenantMemoryCachesTest : public TenantStoreTest {};

TEST_F(TenantMemoryCachesTest, CatalogAndActivityReportTheirBytesAndTheirRelease) {
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back("ITEM_WITH_A_LONG_IDENTIFIER_" + std::to_string(i));
  {
    auto batch = store_->BeginImport();
    store::ItemRecord item;
    item.category = "category";
    for (const auto& id : ids) {
      item.item_id = id;
      ASSERT_OK((*batch)->UpsertItem(item, 1));
    }
    ASSERT_OK((*batch)->Commit());
  }
  {
    auto batch = store_->BeginImport();
    auto u = (*batch)->EnsureUser("u1", 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.type = "view";
    for (int i = 0; i < 100; ++i) {
      r.item_idx = Idx(ids[i]);
      r.ts_ms = clock_.NowMillis() - 1000 * i;
      ASSERT_OK((*batch)->InsertInteraction(r));
    }
    ASSERT_OK((*batch)->Commit());
  }
  TenantMemory m(0, [](const std::string&) {});
  CatalogCache catalog(&clock_);
  catalog.SetMemory(&m);
  Activity activity(&clock_);
  activity.SetMemory(&m);
  ASSERT_OK(catalog.Get(id_, store_));
  // 200 items with 30-byte ids: each id twice (item, index) on the heap, the item record, the index node.
  const int64_t catalog_bytes = m.usage().catalog_bytes;
  EXPECT_GE(catalog_bytes, 200 * (2 * 31 + static_cast<int64_t>(sizeof(CatalogItem)) + 64));
  EXPECT_LE(catalog_bytes, 200 * 1000);
  ASSERT_OK(activity.Trending(id_, store_));
  const int64_t trend_bytes = m.usage().activity_bytes;
  EXPECT_GE(trend_bytes, 100 * 3 * (64 + 31));  // 100 scored items
  ASSERT_OK(activity.Profile(id_, *store_, "u1"));  // 50 recent events, 100 items interacted with
  EXPECT_GE(m.usage().activity_bytes - trend_bytes, 100 * (64 + 31));
  catalog.Invalidate(id_);
  activity.Drop(id_);
  EXPECT_EQ(m.usage().catalog_bytes, 0);
  EXPECT_EQ(m.usage().activity_bytes, 0);
}

}  // namespace
}  // namespace embedrec::serving
