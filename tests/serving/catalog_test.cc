// The catalog snapshots serving reads: loaded once; after their TTL kept
// while the event log shows no catalog change (read again when it does, or
// after the full re-read interval; in the background when there is one;
// keeping the generation when nothing changed), replaced at once on Invalidate.
#include "serving/catalog.h"

#include <functional>
#include <vector>

#include "tenant_fixture.h"

namespace embedrec::serving {
namespace {

class CatalogCacheTest : public TenantStoreTest {
 protected:
  void SetUp() override {
    TenantStoreTest::SetUp();
    Put("A", "shoes", R"({"stock": 3})");
    Put("B", "books", R"({"stock": 0})");
  }
  // Writes an item as the ingest service does (with its event in the log),
  // or, `logged` false, as another tool writing the table would.
  void Put(const std::string& id, const std::string& category, const std::string& properties, bool logged = true) {
    auto batch = store_->BeginImport();
    store::ItemRecord item;
    item.item_id = id;
    item.category = category;
    item.properties_json = properties;
    ASSERT_OK((*batch)->UpsertItem(item, 1));
    if (logged) ASSERT_OK((*batch)->AppendEvent(store::TenantStore::kItemCatalogUpdated, "{}", 1));
    ASSERT_OK((*batch)->Commit());
  }
};

TEST_F(CatalogCacheTest, LoadsOnceAndReadsStock) {
  CatalogCache c(&clock_, 60000);
  EXPECT_EQ(c.Peek(id_), nullptr);
  auto s = c.Get(id_, store_);
  ASSERT_OK(s);
  ASSERT_EQ((*s)->items.size(), 2u);
  EXPECT_TRUE((*s)->Find("A")->in_stock);
  EXPECT_FALSE((*s)->Find("B")->in_stock);
  Put("C", "shoes", "{}");  // not seen until the TTL or an Invalidate
  EXPECT_EQ(c.Get(id_, store_)->get(), s->get());
  EXPECT_EQ(c.Peek(id_).get(), s->get());
}

TEST_F(CatalogCacheTest, EachItemsCategoryNumberMatchesItsCategory) {
  Put("C", "shoes", "{}");
  CatalogCache c(&clock_, 60000);
  auto s = c.Get(id_, store_);
  ASSERT_OK(s);
  const CatalogSnapshot& snap = **s;
  ASSERT_EQ(snap.category_of.size(), snap.items.size());
  const uint32_t shoes = snap.CategoryNumber("shoes"), books = snap.CategoryNumber("books");
  EXPECT_NE(shoes, books);
  EXPECT_EQ(snap.CategoryNumber("hats"), UINT32_MAX);
  for (size_t pos = 0; pos < snap.items.size(); ++pos) {
    const std::string& cat = snap.items[pos].category;
    EXPECT_TRUE(snap.InCategory(pos, cat, snap.CategoryNumber(cat))) << pos;
    const std::string other = cat == "shoes" ? "books" : "shoes";
    EXPECT_FALSE(snap.InCategory(pos, other, snap.CategoryNumber(other))) << pos;
  }
  // A snapshot built by hand (no numbers) compares the names.
  CatalogSnapshot by_hand;
  by_hand.items.push_back(snap.items[0]);
  EXPECT_TRUE(by_hand.InCategory(0, snap.items[0].category, 7));
  EXPECT_FALSE(by_hand.InCategory(0, "nothing", 7));
}

TEST_F(CatalogCacheTest, AnExpiredSnapshotIsKeptWithoutAReadWhileTheLogShowsNoCatalogChange) {
  CatalogCache c(&clock_, 60000, 15 * 60000);
  auto first = *c.Get(id_, store_);
  EXPECT_EQ(c.Loads(), 1u);
  // Tracked interactions (new users, known items) are not catalog changes.
  store::TrackEvent ev;
  ev.user_id = "U";
  ev.item_id = "A";
  ev.type = "view";
  ev.ts_ms = clock_.NowMillis();
  ASSERT_OK(store_->Track({ev}));
  for (int minute = 1; minute <= 5; ++minute) {
    clock_.AdvanceSeconds(61);
    EXPECT_EQ(c.Get(id_, store_)->get(), first.get()) << minute;
  }
  EXPECT_EQ(c.Loads(), 1u);  // never read again
  EXPECT_EQ(c.Kept(), 5u);
  // An item a tracked interaction created is a catalog change.
  ev.item_id = "NEW";
  ev.create_missing_item = true;
  ASSERT_OK(store_->Track({ev}));
  clock_.AdvanceSeconds(61);
  auto second = *c.Get(id_, store_);
  EXPECT_EQ(c.Loads(), 2u);
  EXPECT_NE(second->Find("NEW"), nullptr);
  EXPECT_NE(second->generation, first->generation);
}

TEST_F(CatalogCacheTest, AWriteTheLogDoesNotShowIsReadAfterTheFullReReadInterval) {
  CatalogCache c(&clock_, 60000, 10 * 60000);
  auto first = *c.Get(id_, store_);
  Put("C", "shoes", "{}", /*logged=*/false);
  for (int minute = 1; minute <= 9; ++minute) {  // 549 s: expired and checked, unchanged by the log
    clock_.AdvanceSeconds(61);
    EXPECT_EQ((*c.Get(id_, store_))->Find("C"), nullptr) << minute;
  }
  clock_.AdvanceSeconds(61);
  auto later = *c.Get(id_, store_);  // 610 s after the read: read again
  EXPECT_NE(later->Find("C"), nullptr);
  EXPECT_EQ(c.Loads(), 2u);
}

TEST_F(CatalogCacheTest, AnUnchangedReReadKeepsTheGeneration) {
  CatalogCache c(&clock_, 60000, 60000);  // every expired snapshot read again
  auto first = *c.Get(id_, store_);
  clock_.AdvanceSeconds(61);
  const uint64_t loads = c.Loads();
  auto second = *c.Get(id_, store_);
  EXPECT_EQ(c.Loads(), loads + 1);  // re-read
  EXPECT_EQ(second->items, first->items);
  EXPECT_EQ(second->generation, first->generation);
  ASSERT_OK(c.Get(id_, store_));
  EXPECT_EQ(c.Loads(), loads + 1);  // fresh again
}

TEST_F(CatalogCacheTest, AChangedReReadOrAnInvalidateGivesANewGeneration) {
  CatalogCache c(&clock_, 60000);
  auto first = *c.Get(id_, store_);
  Put("B", "books", R"({"stock": 5})");  // back in stock, written by another node
  clock_.AdvanceSeconds(61);
  auto second = *c.Get(id_, store_);
  EXPECT_NE(second->generation, first->generation);
  EXPECT_TRUE(second->Find("B")->in_stock);
  Put("C", "shoes", "{}");
  c.Invalidate(id_);
  auto third = *c.Get(id_, store_);
  EXPECT_NE(third->generation, second->generation);
  EXPECT_NE(third->Find("C"), nullptr);
}

TEST_F(CatalogCacheTest, AnExpiredSnapshotIsReReadInTheBackground) {
  CatalogCache c(&clock_, 60000);
  std::vector<std::function<void()>> queued;
  c.SetBackground([&](const std::string& tid, std::function<void()> task) {
    EXPECT_EQ(tid, id_);
    queued.push_back(std::move(task));
  });
  auto first = *c.Get(id_, store_);  // a first load is made by the request
  EXPECT_EQ(c.Loads(), 1u);
  EXPECT_TRUE(queued.empty());
  Put("C", "shoes", "{}");  // written by another node
  clock_.AdvanceSeconds(61);
  EXPECT_EQ(c.Get(id_, store_)->get(), first.get());  // answered at once, from the expired one
  EXPECT_EQ(c.Get(id_, store_)->get(), first.get());
  EXPECT_EQ(c.Loads(), 1u);
  ASSERT_EQ(queued.size(), 1u);  // one re-read, however many requests
  queued[0]();
  queued.clear();
  auto second = *c.Get(id_, store_);
  EXPECT_EQ(c.Loads(), 2u);
  EXPECT_NE(second->Find("C"), nullptr);
  EXPECT_NE(second->generation, first->generation);
  // A re-read that raced an Invalidate is dropped: the next request loads afresh.
  clock_.AdvanceSeconds(61);
  ASSERT_OK(c.Get(id_, store_));
  ASSERT_EQ(queued.size(), 1u);
  Put("D", "shoes", "{}");
  c.Invalidate(id_);
  queued[0]();
  queued.clear();
  EXPECT_EQ(c.Peek(id_), nullptr);
  auto third = *c.Get(id_, store_);
  EXPECT_TRUE(queued.empty());
  EXPECT_NE(third->Find("D"), nullptr);
}

TEST_F(CatalogCacheTest, ConcurrentFirstRequestsLoadOnce) {
  for (int i = 0; i < 3000; ++i) Put("X" + std::to_string(i), "bulk", "{}");
  CatalogCache c(&clock_, 60000);
  auto got = AllAtOnce(8, [&] { return c.Get(id_, store_); });
  EXPECT_EQ(c.Loads(), 1u);
  ASSERT_NE(got[0], nullptr);
  EXPECT_EQ(got[0]->items.size(), 3002u);
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
}

}  // namespace
}  // namespace embedrec::serving
