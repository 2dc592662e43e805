#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

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

}  // namespace
}  // namespace embedrec::store

namespace embedrec::store {
namespace {

class TenantStoreTrackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = NewSqliteTenantStores(dir_.path(), &clock_);
    id_ = NewUuid();
    ASSERT_OK(stores_->Create(id_));
    auto s = stores_->Open(id_);
    ASSERT_OK(s);
    store_ = *s;
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    ItemRecord it;
    it.item_id = "P1";
    ASSERT_OK((*batch)->UpsertItem(it, 1));
    ASSERT_OK((*batch)->Commit());
  }
  testing::TempDir dir_;
  FakeClock clock_{1'750'000'000'000};
  std::unique_ptr<TenantStores> stores_;
  std::string id_;
  std::shared_ptr<TenantStore> store_;
};

TEST_F(TenantStoreTrackTest, StampsWhatItProcessedWithTheClockItWasGiven) {
  TrackEvent ev;
  ev.user_id = "U";
  ev.item_id = "P1";
  ev.type = "view";
  ev.ts_ms = 5;
  auto r = store_->Track({ev});
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].processed_at_ms, 1'750'000'000'000);
}

TEST_F(TenantStoreTrackTest, ConcurrentTrackCallsAllCommitWithUniqueIds) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        TrackEvent ev;
        ev.user_id = "U" + std::to_string(t);
        ev.item_id = "P1";
        ev.type = "view";
        ev.ts_ms = i;
        auto r = store_->Track({ev});
        ASSERT_TRUE(r.ok());
        ASSERT_TRUE((*r)[0].status.ok());
        std::lock_guard lock(mu);
        ids.insert((*r)[0].interaction_id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ids.size(), 400u);
  auto counts = store_->CountData();
  ASSERT_OK(counts);
  EXPECT_EQ(counts->interactions, 400);
  EXPECT_EQ(counts->users, 8);
}

TEST_F(TenantStoreTrackTest, TrackAsyncAnswersEveryCallerOnceAfterCommit) {
  constexpr int kEvents = 300;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::set<std::string> ids;
  for (int i = 0; i < kEvents; ++i) {
    TrackEvent ev;
    ev.user_id = "A" + std::to_string(i % 7);
    ev.item_id = "P1";
    ev.type = "view";
    ev.ts_ms = i;
    store_->TrackAsync({ev}, [&](StatusOr<std::vector<TrackResult>> r) {
      std::lock_guard lock(mu);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->size(), 1u);
      ids.insert((*r)[0].interaction_id);
      ++answered;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == kEvents; }));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  lock.unlock();
  auto counts = store_->CountData();  // answered means committed
  ASSERT_OK(counts);
  EXPECT_EQ(counts->interactions, kEvents);
}

TEST_F(TenantStoreTrackTest, CountsEventsAndDistinctPairs) {
  std::vector<TrackEvent> evs;
  for (const auto& [user, type, ts] : std::vector<std::tuple<std::string, std::string, int64_t>>{
           {"A", "view", 1000}, {"A", "view", 2000}, {"A", "purchase", 3000}, {"B", "view", 1000}}) {
    TrackEvent ev;
    ev.user_id = user;
    ev.item_id = "P1";
    ev.type = type;
    ev.ts_ms = ts;
    evs.push_back(ev);
  }
  ASSERT_OK(store_->Track(evs));
  auto n = store_->CountInteractions();
  ASSERT_OK(n);
  EXPECT_EQ(n->events, 4);
  EXPECT_EQ(n->pairs, 2);  // (A, P1) three times, (B, P1) once
  EXPECT_EQ(n->items, 1);
}

TEST_F(TenantStoreTrackTest, EnsureUserFindsAUserTrackedSinceTheSnapshot) {
  auto snapshot = store_->LoadUserIndex();
  ASSERT_OK(snapshot);
  EXPECT_EQ(snapshot->count("LATE"), 0u);
  TrackEvent ev;
  ev.user_id = "LATE";
  ev.item_id = "P1";
  ev.type = "view";
  ASSERT_OK(store_->Track({ev}));
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  auto idx = (*batch)->EnsureUser("LATE", 1);
  ASSERT_OK(idx);
  auto fresh = (*batch)->EnsureUser("FRESH", 1);
  ASSERT_OK(fresh);
  EXPECT_GT(*fresh, *idx);
  ASSERT_OK((*batch)->Commit());
  auto users = store_->LoadUserIndex();
  ASSERT_OK(users);
  EXPECT_EQ(users->at("LATE"), *idx);
  EXPECT_EQ(users->size(), 2u);
}

TEST_F(TenantStoreTrackTest, UnknownItemDuplicateAndIdempotencyKey) {
  TrackEvent ev;
  ev.user_id = "U";
  ev.item_id = "NOPE";
  ev.type = "view";
  auto r = store_->Track({ev});
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].status.code(), StatusCode::kNotFound);
  ev.item_id = "P1";
  ev.ts_ms = 5;
  auto first = store_->Track({ev, ev});  // the second is a duplicate of the first
  ASSERT_OK(first);
  EXPECT_FALSE((*first)[0].duplicate);
  EXPECT_TRUE((*first)[1].duplicate);
  EXPECT_EQ((*first)[1].interaction_id, (*first)[0].interaction_id);
  ev.ts_ms = 6;
  ev.idempotency_key = "k1";
  auto a = store_->Track({ev});
  ev.ts_ms = 7;  // a retry with another clock reading: still the same request
  auto b = store_->Track({ev});
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_TRUE((*b)[0].replayed);
  EXPECT_EQ((*b)[0].interaction_id, (*a)[0].interaction_id);
  EXPECT_EQ(store_->CountData()->interactions, 2);
}

TEST_F(TenantStoreTrackTest, AnUncommittedImportLeavesNoTrace) {
  {
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    ItemRecord it;
    it.item_id = "P2";
    ASSERT_OK((*batch)->UpsertItem(it, 1));
  }  // dropped without Commit
  EXPECT_EQ(store_->GetItem("P2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountItems(), 1);
}

}  // namespace
}  // namespace embedrec::store
