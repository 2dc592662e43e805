// What only the SQLite backend promises: its files, the stamp that ties a
// database to its tenant, UUID ids (the contract every backend keeps is in
// tenant_stores_test.cc).
#include <atomic>
#include <filesystem>
#include <mutex>

#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

TEST(SqliteTenantStoresTest, CreatesOpensAndDropsATenantSpace) {
  testing::TempDir dir;
  auto stores = NewSqliteTenantStores(dir.path());
  std::string id = NewUuid();
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
  ASSERT_OK(stores->Create(id));
  auto s = stores->Open(id);
  ASSERT_OK(s);
  EXPECT_EQ((*s)->tenant_id(), id);
  EXPECT_OK((*s)->Ping());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/" + id + "/tenant.db"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/" + id + "/blobs"));
  ASSERT_OK(stores->Drop(id));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + id));
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
}

TEST(SqliteTenantStoresTest, ClosesAStoreNobodyHoldsOnceIdleAndReopensItOnUse) {
  testing::TempDir dir;
  FakeClock clock;
  auto stores = NewSqliteTenantStores(dir.path(), &clock, nullptr, /*idle_close_ms=*/60000);
  std::vector<std::string> told;
  stores->OnIdleClose([&](const std::vector<std::string>& ids) { told.insert(told.end(), ids.begin(), ids.end()); });
  std::string a = NewUuid(), b = NewUuid(), c = NewUuid();
  for (const auto& id : {a, b, c}) ASSERT_OK(stores->Create(id));
  auto held = stores->Open(b);  // a request still holds b's store
  ASSERT_OK(held);
  EXPECT_EQ(stores->OpenCount(), 3u);
  clock.AdvanceMillis(30000);
  ASSERT_OK(stores->Open(c));  // c used again: its idle time starts over
  clock.AdvanceMillis(40000);
  ASSERT_OK(stores->Open(c));  // the next open sweeps: a was idle 70 s, b is held
  EXPECT_FALSE(stores->IsOpen(a));
  EXPECT_TRUE(stores->IsOpen(b));
  EXPECT_TRUE(stores->IsOpen(c));
  EXPECT_EQ(stores->OpenCount(), 2u);
  EXPECT_EQ(told, std::vector<std::string>{a});  // the others hear of it
  // Reopened on use, with its data.
  auto again = stores->Open(a);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->tenant_id(), a);
  EXPECT_OK((*again)->Ping());
  EXPECT_TRUE(stores->IsOpen(a));
  // Closed at once when asked, unless held.
  again->reset();
  stores->CloseIfUnused(a);
  stores->CloseIfUnused(b);
  EXPECT_FALSE(stores->IsOpen(a));
  EXPECT_TRUE(stores->IsOpen(b));
  // Without an idle limit nothing is closed.
  auto keep = NewSqliteTenantStores(dir.path(), &clock, nullptr, 0);
  ASSERT_OK(keep->Open(a));
  clock.AdvanceMillis(24 * 3600 * 1000LL);
  ASSERT_OK(keep->Open(b));
  EXPECT_TRUE(keep->IsOpen(a));
}

TEST(SqliteTenantStoresTest, RejectsIdsThatAreNotUuids) {
  testing::TempDir dir;
  auto stores = NewSqliteTenantStores(dir.path());
  EXPECT_EQ(stores->Create("../escape").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(stores->Open("../escape").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(IsUuid("2D34F4E3-8207-491A-AD07-242EF39506EC"));
  EXPECT_TRUE(IsUuid("2d34f4e3-8207-491a-ad07-242ef39506ec"));
}

TEST(SqliteTenantStoresTest, RefusesADatabaseStampedForAnotherTenant) {
  testing::TempDir dir;
  std::string a = NewUuid(), b = NewUuid();
  {
    auto stores = NewSqliteTenantStores(dir.path());
    ASSERT_OK(stores->Create(a));
  }
  std::filesystem::create_directories(dir.path() + "/" + b);
  std::filesystem::copy_file(dir.path() + "/" + a + "/tenant.db", dir.path() + "/" + b + "/tenant.db");
  auto stores = NewSqliteTenantStores(dir.path());
  EXPECT_EQ(stores->Open(b).status().code(), StatusCode::kInternal);
  EXPECT_OK(stores->Open(a));
}

TEST(SqliteTenantStoresTest, TrackAnswersAreHandedToTheCallbackRunner) {
  testing::TempDir dir;
  std::mutex mu;
  std::vector<std::pair<std::string, std::function<void()>>> handed;
  auto stores = NewSqliteTenantStores(dir.path(), RealClock(),
                                      [&](const std::string& tenant, std::function<void()> callback) {
                                        std::lock_guard lock(mu);
                                        handed.emplace_back(tenant, std::move(callback));
                                      });
  std::string id = NewUuid();
  ASSERT_OK(stores->Create(id));
  auto store = *stores->Open(id);
  auto batch = store->BeginImport();
  ItemRecord item;
  item.item_id = "P1";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  ASSERT_OK((*batch)->Commit());
  TrackEvent ev;
  ev.user_id = "U";
  ev.item_id = "P1";
  ev.type = "view";
  ev.ts_ms = 5;
  std::atomic<int> answered{0};
  store->TrackAsync({ev}, [&](StatusOr<std::vector<TrackResult>> r) {
    EXPECT_TRUE(r.ok());
    ++answered;
  });
  // The synchronous call is answered by the writer itself (a caller on a
  // pool must not wait for that pool), after the same or a later commit.
  ev.user_id = "V";
  auto sync = store->Track({ev});
  ASSERT_OK(sync);
  std::function<void()> callback;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(handed.size(), 1u);
    EXPECT_EQ(handed[0].first, id);
    callback = std::move(handed[0].second);
  }
  EXPECT_EQ(answered, 0);  // the writing thread did not run it
  callback();
  EXPECT_EQ(answered, 1);
}

}  // namespace
}  // namespace embedrec::store
