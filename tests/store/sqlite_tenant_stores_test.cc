// What only the SQLite backend promises: its files, the stamp that ties a
// database to its tenant, UUID ids (the contract every backend keeps is in
// tenant_stores_test.cc).
#include <atomic>
#include <filesystem>
#include <mutex>

#include "common/file_util.h"
#include "store/tenant_stores.h"
#include "store/track_committer.h"
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
  }, TenantStore::TrackDoneOn::kCallbackRunner);
  // The synchronous call is never handed to the runner (a caller on a pool
  // must not wait for that pool): answered by the committer thread, or
  // written and answered on the caller's own thread when the writer is free.
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
  // Asked for on the writing thread (an answer that posts itself on), it is not handed over.
  ev.user_id = "W";
  store->TrackAsync({ev}, [&](StatusOr<std::vector<TrackResult>> r) {
    EXPECT_TRUE(r.ok());
    ++answered;
  }, TenantStore::TrackDoneOn::kWriter);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       answered < 2 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(answered, 2);
  std::lock_guard lock(mu);
  EXPECT_EQ(handed.size(), 1u);
}

// A store with item P1, open on `stores`.
std::shared_ptr<TenantStore> StoreWithItem(TenantStores& stores, const std::string& id) {
  auto store = stores.Open(id);
  EXPECT_TRUE(store.ok());
  auto batch = (*store)->BeginImport();
  ItemRecord item;
  item.item_id = "P1";
  EXPECT_TRUE((*batch)->UpsertItem(item, 1).ok());
  EXPECT_TRUE((*batch)->Commit().ok());
  return *store;
}

TrackEvent ViewOfP1(const std::string& user) {
  TrackEvent ev;
  ev.user_id = user;
  ev.item_id = "P1";
  ev.type = "view";
  ev.ts_ms = 5;
  return ev;
}

// A journal round of views of P1 by `users`, each with its id and time.
std::string JournalRoundOf(uint64_t seq, const std::vector<std::string>& users) {
  TrackBatch batch;
  for (const auto& u : users) {
    batch.events.push_back(ViewOfP1(u));
    TrackResult r;
    r.interaction_id = "int_journal_" + u;
    r.processed_at_ms = 1234;
    batch.results.push_back(r);
  }
  return EncodeJournalRound(seq, {&batch});
}

int64_t StoredEvents(TenantStore& store) {
  auto n = store.CountInteractions();
  EXPECT_TRUE(n.ok());
  return n.ok() ? n->events : -1;
}

// The tracked events are acknowledged once in the journal; the database
// commits later. Every use of the database must see them at once.
TEST(SqliteTenantStoresTest, WhatTrackingAcknowledgedIsVisibleToTheNextRead) {
  testing::TempDir dir;
  auto stores = NewSqliteTenantStores(dir.path());
  std::string id = NewUuid();
  ASSERT_OK(stores->Create(id));
  auto store = StoreWithItem(*stores, id);
  for (int i = 0; i < 40; ++i) {
    auto r = store->Track({ViewOfP1("U" + std::to_string(i))});
    ASSERT_OK(r);
    ASSERT_EQ(StoredEvents(*store), i + 1);  // no wait for the commit window
  }
  // A writer other than tracking, with tracked events uncommitted, gets the
  // database (its checkout flushes them first) and commits.
  auto again = store->Track({ViewOfP1("W")});
  ASSERT_OK(again);
  auto batch = store->BeginImport();
  ASSERT_OK(batch);
  ASSERT_OK((*batch)->Commit());
}

// A process killed after the answers, before the commit: its journal holds
// the rounds, applied when the tenant's store is opened again, once.
TEST(SqliteTenantStoresTest, RoundsOnlyInTheJournalAreAppliedOnceWhenTheStoreOpens) {
  testing::TempDir dir;
  std::string id = NewUuid();
  const std::string journal = dir.path() + "/" + id + "/tenant.db-track";
  {
    auto stores = NewSqliteTenantStores(dir.path());
    ASSERT_OK(stores->Create(id));
    auto store = StoreWithItem(*stores, id);
    ASSERT_OK(store->Track({ViewOfP1("live")}));  // round 1, committed when the store closes
  }
  EXPECT_EQ(std::filesystem::file_size(journal), 0u);  // emptied by the commit
  // As a killed process leaves it: round 2 whole, round 3 torn.
  std::string torn = JournalRoundOf(3, {"C"});
  ASSERT_OK(WriteFileAtomically(journal, JournalRoundOf(2, {"A", "B"}) + torn.substr(0, torn.size() / 2), 0600));
  {
    auto stores = NewSqliteTenantStores(dir.path());
    auto store = stores->Open(id);
    ASSERT_OK(store);
    EXPECT_EQ(StoredEvents(**store), 3);  // live, A, B; not the torn C
    // The ids and times the answers gave.
    auto dup = (*store)->Track({ViewOfP1("A")});
    ASSERT_OK(dup);
    EXPECT_TRUE((*dup)[0].duplicate);
    EXPECT_EQ((*dup)[0].interaction_id, "int_journal_A");
    // The next live round follows the journal's numbers.
    ASSERT_OK((*store)->Track({ViewOfP1("D")}));
  }
  EXPECT_EQ(std::filesystem::file_size(journal), 0u);
  // A journal whose rounds were committed already (killed after the commit,
  // before it was emptied) changes nothing; a later round is applied.
  ASSERT_OK(WriteFileAtomically(journal, JournalRoundOf(2, {"E"}) + JournalRoundOf(3, {"F"}) +
                                             JournalRoundOf(5, {"G"}), 0600));
  auto stores = NewSqliteTenantStores(dir.path());
  auto store = stores->Open(id);
  ASSERT_OK(store);
  auto stored = (*store)->Track({ViewOfP1("E"), ViewOfP1("F"), ViewOfP1("G")});
  ASSERT_OK(stored);
  EXPECT_FALSE((*stored)[0].duplicate);  // round 2 was committed: E never applied
  EXPECT_FALSE((*stored)[1].duplicate);  // round 3 was D's (live), committed
  EXPECT_TRUE((*stored)[2].duplicate);   // round 5 applied from the journal
  EXPECT_EQ((*stored)[2].interaction_id, "int_journal_G");
}

}  // namespace
}  // namespace embedrec::store
