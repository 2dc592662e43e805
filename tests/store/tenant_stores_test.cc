// The tenant stores' contract (store/tenant_stores.h, store/training_records.h),
// one suite every backend must pass: add a backend to kBackends. What only
// the SQLite backend promises is in sqlite_tenant_stores_test.cc.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "store/tenant_stores.h"
#include "local_services.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

struct Backend {
  const char* name;
  std::function<std::unique_ptr<TenantStores>(const std::string& dir, const Clock* clock)> open;
  // False when the backend's server is not running (a suite run by hand).
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"sqlite", [](const std::string& dir, const Clock* clock) { return NewSqliteTenantStores(dir, clock); }},
    // Every tenant a schema of its own (fresh UUIDs): tests share the database.
    {"postgres",
     [](const std::string& dir, const Clock* clock) {
       auto stores = NewPostgresTenantStores(*testing::LocalService("EMBEDREC_TEST_DATABASE_URL"), clock);
       EXPECT_TRUE(stores.ok()) << stores.status().ToString();
       return stores.ok() ? std::move(stores).value() : nullptr;
     },
     [] { return testing::LocalService("EMBEDREC_TEST_DATABASE_URL").has_value(); }},
};

// The item_idx of each item, as the store assigned them.
IdMap ItemIdx(TenantStore& store) {
  auto idx = store.LoadItemIndex();
  EXPECT_TRUE(idx.ok());
  return idx.ok() ? std::move(idx).value() : IdMap();
}

// A view of `item` by `user` at time 5.
TrackEvent View(const std::string& user, const std::string& item) {
  TrackEvent ev;
  ev.user_id = user;
  ev.item_id = item;
  ev.type = "view";
  ev.ts_ms = 5;
  return ev;
}

class TenantSpacesTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
  }
  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_P(TenantSpacesTest, ASpaceIsCreatedOpenedAndDropped) {
  auto stores = GetParam().open(dir_.path(), &clock_);
  EXPECT_OK(stores->Ping());
  std::string id = NewUuid();
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(stores->IsOpen(id));
  ASSERT_OK(stores->Create(id));
  ASSERT_OK(stores->Create(id));  // idempotent
  auto s = stores->Open(id);
  ASSERT_OK(s);
  EXPECT_EQ((*s)->tenant_id(), id);
  EXPECT_OK((*s)->Ping());
  EXPECT_TRUE(stores->IsOpen(id));
  ASSERT_OK(stores->Drop(id));
  EXPECT_EQ(stores->Open(id).status().code(), StatusCode::kNotFound);
  ASSERT_OK(stores->Drop(id));  // dropping what is gone is done
}

TEST_P(TenantSpacesTest, TwoTenantsNeverSeeEachOthersData) {
  auto stores = GetParam().open(dir_.path(), &clock_);
  std::string a = NewUuid(), b = NewUuid();
  ASSERT_OK(stores->Create(a));
  ASSERT_OK(stores->Create(b));
  auto sa = *stores->Open(a);
  auto sb = *stores->Open(b);
  auto batch = sa->BeginImport();
  ASSERT_OK(batch);
  ItemRecord item;
  item.item_id = "P1";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  ASSERT_OK((*batch)->Commit());
  const TrackEvent ev = View("U", "P1");
  ASSERT_OK(sa->Track({ev}));
  EXPECT_EQ(*sa->CountItems(), 1);
  EXPECT_EQ(*sb->CountItems(), 0);
  EXPECT_EQ(sb->GetItem("P1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sb->CountInteractions()->events, 0);
  EXPECT_EQ(sb->ListUserInteractions("U", 0, 10).status().code(), StatusCode::kNotFound);
  auto tracked = sb->Track({ev});  // P1 is not b's item
  ASSERT_OK(tracked);
  EXPECT_EQ((*tracked)[0].status.code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace embedrec::store

namespace embedrec::store {
namespace {

// One tenant's store of the backend under test.
class OneTenantTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    stores_ = GetParam().open(dir_.path(), &clock_);
    ASSERT_TRUE(stores_);
    id_ = NewUuid();
    ASSERT_OK(stores_->Create(id_));
    auto s = stores_->Open(id_);
    ASSERT_OK(s);
    store_ = *s;
  }
  testing::TempDir dir_;
  FakeClock clock_{1'750'000'000'000};
  std::unique_ptr<TenantStores> stores_;
  std::string id_;
  std::shared_ptr<TenantStore> store_;
};

// With item P1 in the catalog.
class TenantStoreTrackTest : public OneTenantTest {
 protected:
  void SetUp() override {
    OneTenantTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto batch = ImportOneItem("P1");
    ASSERT_OK(batch);
    ASSERT_OK((*batch)->Commit());
  }
  // An upload's batch, not committed, that wrote item `item_id`.
  StatusOr<std::unique_ptr<ImportBatch>> ImportOneItem(const std::string& item_id) {
    ASSIGN_OR_RETURN(auto batch, store_->BeginImport());
    ItemRecord it;
    it.item_id = item_id;
    RETURN_IF_ERROR(batch->UpsertItem(it, 1));
    return batch;
  }
};

TEST_P(TenantStoreTrackTest, StampsWhatItProcessedWithTheClockItWasGiven) {
  const TrackEvent ev = View("U", "P1");
  auto r = store_->Track({ev});
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].processed_at_ms, 1'750'000'000'000);
}

TEST_P(TenantStoreTrackTest, ConcurrentTrackCallsAllCommitWithUniqueIds) {
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

TEST_P(TenantStoreTrackTest, TrackAsyncAnswersEveryCallerOnceAfterCommit) {
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
    }, TenantStore::TrackDoneOn::kCallbackRunner);
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == kEvents; }));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  lock.unlock();
  auto counts = store_->CountData();  // answered means committed
  ASSERT_OK(counts);
  EXPECT_EQ(counts->interactions, kEvents);
}

// Callers on many threads at once (as the network threads are): a caller
// that finds another writing leaves its events to it; one thread's calls
// wait for their answers; reads in between make the open transaction
// commit. Every caller is answered once, with its own events' results, and
// everything answered is stored.
TEST_P(TenantStoreTrackTest, TrackAsyncFromManyThreadsAnswersEachCallerOnceWithItsOwnResults) {
  constexpr int kThreads = 6, kCalls = 150;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, wrong = 0;
  std::set<std::string> ids;
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    while (reading.load()) {
      auto counts = store_->CountData();  // commits what is open first
      ASSERT_OK(counts);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        // Every third call two events, the second for another user of this thread's.
        std::vector<TrackEvent> events;
        for (int k = 0; k < (i % 3 == 0 ? 2 : 1); ++k) {
          TrackEvent ev = View("T" + std::to_string(t) + "_" + std::to_string(k), "P1");
          ev.ts_ms = i;
          events.push_back(ev);
        }
        const size_t n = events.size();
        auto answer = [&, n](StatusOr<std::vector<TrackResult>> r) {
          std::lock_guard lock(mu);
          if (!r.ok() || r->size() != n) ++wrong;
          else for (const auto& one : *r) ids.insert(one.interaction_id);
          ++answered;
          cv.notify_all();
        };
        // One thread's calls wait for their answer (as the batch route's do).
        if (t == 0) answer(store_->Track(events));
        // The others' answers come from the runner, or from the writing thread when asked.
        else store_->TrackAsync(std::move(events), answer,
                                t % 2 == 1 ? TenantStore::TrackDoneOn::kCallbackRunner : TenantStore::TrackDoneOn::kWriter);
      }
    });
  }
  for (auto& th : threads) th.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == kThreads * kCalls; }))
        << answered << " of " << kThreads * kCalls << " answered";
  }
  reading = false;
  reader.join();
  EXPECT_EQ(wrong, 0);
  const int events = kThreads * (kCalls + kCalls / 3);
  EXPECT_EQ(ids.size(), static_cast<size_t>(events));
  auto counts = store_->CountData();
  ASSERT_OK(counts);
  EXPECT_EQ(counts->interactions, events);
  EXPECT_EQ(counts->users, kThreads * 2);
}

TEST_P(TenantStoreTrackTest, CountsEventsAndDistinctPairs) {
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
  EXPECT_EQ(n->users, 2);
  EXPECT_EQ(n->types, 2);  // views and a purchase
}

TEST_P(TenantStoreTrackTest, EnsureUserFindsAUserTrackedSinceTheSnapshot) {
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

TEST_P(TenantStoreTrackTest, EnsureUsersFindsTheKnownAndNumbersTheNewInOrder) {
  TrackEvent ev;
  ev.user_id = "LATE";
  ev.item_id = "P1";
  ev.type = "view";
  ASSERT_OK(store_->Track({ev}));
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  auto idx = (*batch)->EnsureUsers({"N1", "LATE", "N2", "N3"}, 1);
  ASSERT_OK(idx);
  ASSERT_EQ(idx->size(), 4u);
  auto late = (*batch)->EnsureUser("LATE", 1);
  ASSERT_OK(late);
  EXPECT_EQ((*idx)[1], *late);
  EXPECT_EQ((*idx)[2], (*idx)[0] + 1);  // dense, in the order given
  EXPECT_EQ((*idx)[3], (*idx)[2] + 1);
  EXPECT_GT((*idx)[0], *late);
  auto again = (*batch)->EnsureUsers({"N3", "N1"}, 1);  // made already: the same numbers
  ASSERT_OK(again);
  EXPECT_EQ(*again, (std::vector<int64_t>{(*idx)[3], (*idx)[0]}));
  ASSERT_OK((*batch)->Commit());
  auto users = store_->LoadUserIndex();
  ASSERT_OK(users);
  EXPECT_EQ(users->size(), 4u);
  EXPECT_EQ(users->at("N2"), (*idx)[2]);
}

TEST_P(TenantStoreTrackTest, UnknownItemDuplicateAndIdempotencyKey) {
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

TEST_P(TenantStoreTrackTest, AnUncommittedImportLeavesNoTrace) {
  ASSERT_OK(ImportOneItem("P2"));  // dropped without Commit
  EXPECT_EQ(store_->GetItem("P2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountItems(), 1);
}

// An upload's write holds the tenant's write lock for its whole transaction:
// a tracked event waits for it a while, not without bound, then is refused
// as busy (503 with Retry-After through the API) and stores nothing.
TEST_P(TenantStoreTrackTest, ATrackedEventWaitsForAnUploadsWriteAWhileThenIsRefusedAsBusy) {
  auto batch = ImportOneItem("P2");
  ASSERT_OK(batch);
  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<std::vector<TrackResult>> r = Status::Internal("not run");
  std::atomic<bool> done{false};
  std::thread tracker([&] {
    r = store_->Track({View("U", "P1")});
    done = true;
  });
  // Polled with a deadline: a wait without bound would never end, the upload
  // being this thread's.
  const auto deadline = t0 + std::chrono::milliseconds(4 * TenantStore::kTrackLockWaitMs);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool waited_too_long = !done;
  if (waited_too_long) ASSERT_OK((*batch)->Commit());  // lets the tracker go
  tracker.join();
  ASSERT_FALSE(waited_too_long) << "the tracked event waited for the whole upload";
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(r.status().reason(), "busy");
  EXPECT_EQ(r.status().detail("retry_after_seconds").value_or(""), "5");
  EXPECT_GT(waited, TenantStore::kTrackLockWaitMs / 1000.0 * 0.8);
  EXPECT_LT(waited, TenantStore::kTrackLockWaitMs / 1000.0 * 3);  // not once per retry, nor without bound
  ASSERT_OK((*batch)->Commit());
  EXPECT_EQ(store_->CountInteractions()->events, 0);
  auto again = store_->Track({View("U", "P2")});  // the lock free: stored
  ASSERT_OK(again);
  ASSERT_OK((*again)[0].status);
  EXPECT_EQ(store_->CountInteractions()->events, 1);
}

TEST_P(TenantStoreTrackTest, OneCallOfManyEventsFollowsTheRulesOfOneByOne) {
  auto ev = [](std::string user, std::string item, int64_t ts, std::string key = "") {
    TrackEvent e = View(user, item);
    e.ts_ms = ts;
    e.idempotency_key = std::move(key);
    return e;
  };
  TrackEvent made = ev("A", "NEWITEM", 9);
  made.create_missing_item = true;
  auto r = store_->Track({ev("A", "P1", 1, "k"), ev("B", "NOPE", 2), ev("A", "P1", 3, "k"), ev("C", "P1", 4),
                          ev("C", "P1", 4, "k4"), made, ev("A", "P1", 1)});
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 7u);
  const auto& x = *r;
  EXPECT_FALSE(x[0].replayed || x[0].duplicate);
  EXPECT_EQ(x[1].status.code(), StatusCode::kNotFound);  // unknown item: nothing stored, no user made
  EXPECT_TRUE(x[2].replayed);                            // the same idempotency key: the first answer
  EXPECT_EQ(x[2].interaction_id, x[0].interaction_id);
  EXPECT_FALSE(x[3].duplicate);
  EXPECT_TRUE(x[4].duplicate);  // the same interaction twice in one call
  EXPECT_EQ(x[4].interaction_id, x[3].interaction_id);
  EXPECT_OK(x[5].status);       // an item made on the way
  EXPECT_TRUE(x[6].duplicate);  // A's first interaction again (without its key)
  EXPECT_EQ(x[6].interaction_id, x[0].interaction_id);
  auto users = store_->LoadUserIndex();
  ASSERT_OK(users);
  EXPECT_EQ(users->count("B"), 0u);
  EXPECT_LT(users->at("A"), users->at("C"));  // numbered in the order they came
  EXPECT_EQ(store_->CountData()->interactions, 3);
  EXPECT_OK(store_->GetItem("NEWITEM").status());
  // The key is kept: a later call is answered from it.
  auto again = store_->Track({ev("A", "P1", 8, "k")});
  EXPECT_TRUE((*again)[0].replayed);
  EXPECT_EQ((*again)[0].interaction_id, x[0].interaction_id);
  // A repeat's key is kept with the id it answered: that of the row it repeated,
  // whether written in the same call (k4) or stored before (k5).
  auto stored_before = store_->Track({ev("C", "P1", 4, "k5"), ev("D", "P1", 6)});
  ASSERT_OK(stored_before);
  EXPECT_TRUE((*stored_before)[0].duplicate);
  EXPECT_EQ((*stored_before)[0].interaction_id, x[3].interaction_id);
  EXPECT_FALSE((*stored_before)[1].duplicate);
  auto retried = store_->Track({ev("C", "P1", 11, "k4"), ev("C", "P1", 12, "k5")});
  ASSERT_OK(retried);
  EXPECT_TRUE((*retried)[0].replayed);
  EXPECT_EQ((*retried)[0].interaction_id, x[3].interaction_id);
  EXPECT_TRUE((*retried)[1].replayed);
  EXPECT_EQ((*retried)[1].interaction_id, x[3].interaction_id);
  EXPECT_EQ(store_->CountData()->interactions, 4);
}

TEST_P(TenantStoreTrackTest, UpsertItemsIsUpsertItemOfEachInTurn) {
  const int64_t p1 = ItemIdx(*store_).at("P1");
  ASSERT_OK(store_->DeleteItem("P1", 2));
  auto item = [](std::string id, std::string name) {
    ItemRecord it;
    it.item_id = std::move(id);
    it.name = std::move(name);
    return it;
  };
  std::vector<ItemRecord> items = {item("P2", "first"), item("P1", "renamed"), item("P3", "three"),
                                   item("P2", "second"), item("P4", "four")};
  items[1].category = "K";
  items[3].price = 2.5;
  items[3].tags = {"x", "y"};
  items[3].available = false;
  items[3].properties_json = R"({"colour":"red"})";
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  ASSERT_OK((*batch)->UpsertItems(items, 3));
  ASSERT_OK((*batch)->UpsertItems({}, 3));
  ASSERT_OK((*batch)->Commit());
  const IdMap idx = ItemIdx(*store_);
  EXPECT_EQ(idx.at("P1"), p1);  // a stored item keeps its number, and is undeleted
  EXPECT_EQ(idx.at("P2"), p1 + 1);  // new ones numbered on, in the order first given
  EXPECT_EQ(idx.at("P3"), p1 + 2);
  EXPECT_EQ(idx.at("P4"), p1 + 3);
  EXPECT_EQ(*store_->CountItems(), 4);
  auto one = store_->GetItem("P1");
  ASSERT_OK(one);
  EXPECT_EQ(one->name, "renamed");
  EXPECT_EQ(one->category, "K");
  auto two = store_->GetItem("P2");  // the last values given
  ASSERT_OK(two);
  EXPECT_EQ(two->name, "second");
  ASSERT_TRUE(two->price.has_value());
  EXPECT_DOUBLE_EQ(*two->price, 2.5);
  EXPECT_EQ(two->tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(two->available);
  EXPECT_EQ(two->properties_json, R"({"colour":"red"})");
  EXPECT_FALSE(store_->GetItem("P3")->price.has_value());
}

TEST_P(TenantStoreTrackTest, StoredUsersNamedAheadAreJudgedAsOneAtATime) {
  // 600 stored users (more than a server reads per round trip); the upload
  // names the even ones ahead and also has rows of one it did not name.
  std::vector<TrackEvent> events;
  for (int u = 0; u < 600; ++u) events.push_back(View("A" + std::to_string(u), "P1"));  // ts 5
  ASSERT_OK(store_->Track(events));
  auto users = store_->LoadUserIndex();
  ASSERT_OK(users);
  const int64_t p1 = ItemIdx(*store_).at("P1");
  std::vector<std::pair<int64_t, int64_t>> rows;  // (user_idx, ts), in key order
  std::vector<int64_t> named;
  for (int u = 0; u < 600; u += 2) {
    const int64_t idx = users->at("A" + std::to_string(u));
    named.push_back(idx);
    rows.emplace_back(idx, 5);  // stored: not inserted
    rows.emplace_back(idx, 6);  // new
  }
  const int64_t unnamed = users->at("A1");
  rows.emplace_back(unnamed, 5);
  rows.emplace_back(unnamed, 9);
  std::sort(named.begin(), named.end());
  std::sort(rows.begin(), rows.end());
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  (*batch)->ExpectStoredUsers(named);
  int inserted = 0;
  for (const auto& [user, ts] : rows) {
    InteractionRecord r;
    r.user_idx = user;
    r.item_idx = p1;
    r.type = "view";
    r.ts_ms = ts;
    auto ok = (*batch)->InsertInteraction(r);
    ASSERT_OK(ok);
    EXPECT_EQ(*ok, ts != 5) << "user " << user << " ts " << ts;
    inserted += *ok;
  }
  ASSERT_OK((*batch)->Commit());
  EXPECT_EQ(inserted, 301);
  EXPECT_EQ(store_->CountInteractions()->events, 901);
}

TEST_P(TenantStoreTrackTest, AnUploadInsertsOnlyInteractionsNotStoredYet) {
  TrackEvent tracked = View("OLD", "P1");  // stored before the upload, ts 5
  ASSERT_OK(store_->Track({tracked}));
  const int64_t p1 = ItemIdx(*store_).at("P1");
  auto upload = [&](bool* all_new, int* inserted) {
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    auto old_user = (*batch)->EnsureUser("OLD", 1);
    auto new_user = (*batch)->EnsureUser("NEW", 1);
    ASSERT_OK(old_user);
    ASSERT_OK(new_user);
    *inserted = 0;
    *all_new = true;
    for (auto [user, ts] : std::vector<std::pair<int64_t, int64_t>>{{*old_user, 5}, {*old_user, 6}, {*new_user, 5},
                                                                     {*new_user, 7}}) {
      InteractionRecord r;
      r.user_idx = user;
      r.item_idx = p1;
      r.type = "view";
      r.ts_ms = ts;
      r.context_json = "{\"page\":\"a\\tb\\\\c\nd\"}";  // tab, backslash, newline in a value
      auto ok = (*batch)->InsertInteraction(r);
      ASSERT_OK(ok);
      *inserted += *ok;
      *all_new &= *ok;
    }
    ASSERT_OK((*batch)->Commit());
  };
  bool all_new = false;
  int inserted = 0;
  upload(&all_new, &inserted);
  EXPECT_EQ(inserted, 3);  // OLD's row at ts 5 was tracked before
  upload(&all_new, &inserted);
  EXPECT_EQ(inserted, 0);  // the same file again: nothing new
  auto counts = store_->CountInteractions();
  ASSERT_OK(counts);
  EXPECT_EQ(counts->events, 4);
  int with_context = 0;
  ASSERT_OK(store_->ScanInteractions([&](const TenantStore::InteractionRow& row) {
    if (!row.context_json.empty()) {
      EXPECT_EQ(row.context_json, "{\"page\":\"a\\tb\\\\c\nd\"}");
      ++with_context;
    }
  }));
  EXPECT_EQ(with_context, 3);
}

TEST_P(TenantStoreTrackTest, UploadsReplaceTheCatalogAndAreListedAndCounted) {
  auto upload = [&](std::vector<std::pair<std::string, std::string>> items, bool replace, int64_t at,
                    const std::string& id) {
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    for (const auto& [item, category] : items) {
      ItemRecord it;
      it.item_id = item;
      it.category = category;
      it.price = 9.5;
      it.tags = {"a", "b"};
      ASSERT_OK((*batch)->UpsertItem(it, at));
    }
    if (replace) EXPECT_EQ(*(*batch)->DeleteItemsNotUpserted(at), 2);  // P1 and P2 were not in it
    ASSERT_OK((*batch)->RecordUpload({id, "items", at, "file:///x", "{\"rows_accepted\":3,\"rows_rejected\":1,"
                                                                    "\"duplicates_removed\":0}"}));
    ASSERT_OK((*batch)->AppendEvent("interactions-uploaded", "{\"rows_accepted\":3}", at));
    ASSERT_OK((*batch)->Commit());
  };
  const int64_t seq = *store_->LatestEventSeq();
  upload({{"P2", "books"}, {"P3", "books"}, {"P4", "toys"}}, false, 10, "upl_1");
  EXPECT_EQ(*store_->CountItems(), 4);
  std::vector<int64_t> idx;
  auto books = store_->ListItems(0, 1, "books", &idx);
  ASSERT_OK(books);
  ASSERT_EQ(books->size(), 1u);
  EXPECT_EQ((*books)[0].item_id, "P2");
  EXPECT_EQ((*books)[0].tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*books)[0].price, 9.5);
  auto next = store_->ListItems(idx[0], 10, "books", &idx);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].item_id, "P3");
  EXPECT_EQ(store_->ListItems(0, 10, "", &idx)->size(), 4u);
  // Each upload counts its accepted rows; a tracked event counts one.
  ASSERT_OK(store_->Track({View("U", "P3")}));
  EXPECT_EQ(*store_->CountNewInteractions(seq, 100), 4);
  EXPECT_GE(*store_->CountNewInteractions(seq, 1), 1);
  // A replacing upload deletes what it does not name.
  upload({{"P3", "books"}, {"P4", "toys"}, {"P5", "toys"}}, true, 20, "upl_2");
  EXPECT_EQ(store_->GetItem("P1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountItems(), 3);
  auto uploads = store_->ListUploads(10);
  ASSERT_OK(uploads);
  ASSERT_EQ(uploads->size(), 2u);
  EXPECT_EQ((*uploads)[0].id, "upl_2");  // newest first
  auto counts = store_->CountData();
  ASSERT_OK(counts);
  EXPECT_EQ(counts->upload_rows, 8);
  EXPECT_EQ(counts->upload_rejected, 2);
  auto types = store_->ListUserItemTypes("U");
  ASSERT_OK(types);
  ASSERT_EQ(types->size(), 1u);
  EXPECT_EQ((*types)[0].item_id, "P3");
  EXPECT_TRUE(store_->ListUserItemTypes("nobody")->empty());
}

// One read of what serving needs of a user (one round trip on PostgreSQL)
// says what the two separate reads say.
TEST_P(TenantStoreTrackTest, AUsersStateIsWhatTheSeparateReadsSay) {
  std::vector<TrackEvent> events;
  for (int i = 0; i < 5; ++i) {
    TrackEvent ev = View("S", "P" + std::to_string(i % 3));
    ev.ts_ms = 100 + i;
    ev.create_missing_item = true;
    if (i == 4) ev.type = "purchase";
    events.push_back(ev);
  }
  ASSERT_OK(store_->Track(events));
  auto state = store_->LoadUserState("S", 3);
  ASSERT_OK(state);
  auto types = store_->ListUserItemTypes("S");
  auto recent = store_->ListUserInteractions("S", 0, 3);
  ASSERT_OK(types);
  ASSERT_OK(recent);
  auto key = [](const auto& v) {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& x : v) out.insert({x.item_id, x.type});
    return out;
  };
  EXPECT_EQ(key(state->item_types), key(*types));
  EXPECT_EQ(state->item_types.size(), 4u);  // P0, P1, P2 viewed; P1 bought
  ASSERT_EQ(state->recent.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(state->recent[i].item_id, (*recent)[i].item_id);
    EXPECT_EQ(state->recent[i].type, (*recent)[i].type);
    EXPECT_EQ(state->recent[i].ts_ms, (*recent)[i].ts_ms);
    EXPECT_EQ(state->recent[i].interaction_id, (*recent)[i].interaction_id);
  }
  EXPECT_EQ(state->recent[0].ts_ms, 104);  // newest first
  EXPECT_EQ(state->recent[0].type, "purchase");
  auto nobody = store_->LoadUserState("nobody", 3);
  ASSERT_OK(nobody);
  EXPECT_TRUE(nobody->item_types.empty() && nobody->recent.empty());
}

TEST_P(TenantStoreTrackTest, DatabaseBytesAreTheTablesOrLeftToTheFiles) {
  auto before = store_->DatabaseBytes();
  if (!before.ok()) {  // a backend whose files say it
    EXPECT_EQ(before.status().code(), StatusCode::kFailedPrecondition);
    return;
  }
  EXPECT_GT(*before, 0);
  std::vector<TrackEvent> events;
  for (int i = 0; i < 2000; ++i) {
    TrackEvent ev = View("B" + std::to_string(i), "P1");
    ev.ts_ms = 1000 + i;
    ev.context_json = std::string(200, 'x');
    events.push_back(ev);
  }
  ASSERT_OK(store_->Track(events));
  auto after = store_->DatabaseBytes();
  ASSERT_OK(after);
  EXPECT_GT(*after, *before);
}

TEST_P(TenantStoreTrackTest, RetentionPrunesOldEventsOldestFirstUpToThePublishedOnesAndOldKeys) {
  {
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    for (int i = 0; i < 10; ++i) ASSERT_OK((*batch)->AppendEvent("item-catalog-updated", "{}", 1000 + i));
    ASSERT_OK((*batch)->AppendEvent("item-catalog-updated", "{}", 5000));  // recent
    ASSERT_OK((*batch)->Commit());
  }
  auto events = store_->ReadEvents(0, 100);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 11u);
  const int64_t first = (*events)[0].seq;
  // Only what was published (through the 6th) may go; 3 at a time.
  auto n = store_->PruneEvents(2000, first + 5, 3);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3);
  n = store_->PruneEvents(2000, first + 5, 3);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3);
  n = store_->PruneEvents(2000, first + 5, 3);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0);  // the rest is unpublished
  n = store_->PruneEvents(2000, INT64_MAX, 100);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 4);  // every old one; the recent one stays
  events = store_->ReadEvents(0, 100);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].created_at_ms, 5000);
  // Idempotency keys: an old one goes, and its key then makes a new event.
  TrackEvent ev = View("K", "P1");
  ev.idempotency_key = "order-1";
  ASSERT_OK(store_->Track({ev}));
  clock_.AdvanceMillis(10'000);
  ev.ts_ms = 6;
  ASSERT_TRUE((*store_->Track({ev}))[0].replayed);
  auto keys = store_->PruneIdempotencyKeys(clock_.NowMillis() - 5'000);
  ASSERT_OK(keys);
  EXPECT_EQ(*keys, 1);
  auto again = store_->Track({ev});
  ASSERT_OK(again);
  EXPECT_FALSE((*again)[0].replayed);
}

TEST_P(TenantStoreTrackTest, ExperimentsArePutReadAndListedByStatus) {
  auto& e = store_->experiments();
  ASSERT_OK(e.PutExperiment({"exp_1", "running", 1, 1, "{\"a\":1}"}));
  ASSERT_OK(e.PutExperiment({"exp_2", "ended", 2, 2, "{}"}));
  ASSERT_OK(e.PutExperiment({"exp_1", "running", 1, 3, "{\"a\":2}"}));  // replaced
  EXPECT_EQ(e.GetExperiment("exp_1")->doc_json, "{\"a\":2}");
  EXPECT_EQ(e.GetExperiment("exp_x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(e.ListExperiments({}, 10)->size(), 2u);
  EXPECT_EQ((*e.ListExperiments({}, 10))[0].experiment_id, "exp_2");  // newest first
  auto running = e.ListExperiments({"running"}, 10);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].updated_at_ms, 3);
  EXPECT_EQ(e.ListExperiments({}, 1)->size(), 1u);
}

TEST_P(TenantStoreTrackTest, SnapshotsAreKeptByNameAndOnlyDataChangesMoveThePosition) {
  EXPECT_EQ(store_->GetSnapshot("popularity").status().code(), StatusCode::kNotFound);
  const std::string bytes("\0binary\xff\0bytes", 15);
  ASSERT_OK(store_->PutSnapshot("popularity", 7, bytes, 1));
  auto got = store_->GetSnapshot("popularity");
  ASSERT_OK(got);
  EXPECT_EQ(got->position, 7);
  EXPECT_EQ(got->bytes, bytes);
  EXPECT_EQ(got->created_at_ms, 1);
  ASSERT_OK(store_->PutSnapshot("popularity", 9, "newer", 2));  // replaced
  EXPECT_EQ(store_->GetSnapshot("popularity")->bytes, "newer");
  EXPECT_EQ(store_->GetSnapshot("other").status().code(), StatusCode::kNotFound);
  // Tracked interactions do not count as a change of the data; uploads and
  // catalog changes do.
  const int64_t before = *store_->LatestEventSeq();
  const TrackEvent ev = View("U", "P1");
  ASSERT_OK(store_->Track({ev}));
  EXPECT_GT(*store_->LatestEventSeq(), before);
  EXPECT_FALSE(*store_->DataChangedSince(before));
  for (const char* topic : {"interactions-uploaded", "item-catalog-updated"}) {
    const int64_t seq = *store_->LatestEventSeq();
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    ASSERT_OK((*batch)->AppendEvent(topic, "{}", 3));
    ASSERT_OK((*batch)->Commit());
    EXPECT_TRUE(*store_->DataChangedSince(seq)) << topic;
    EXPECT_FALSE(*store_->DataChangedSince(*store_->LatestEventSeq())) << topic;
  }
  ASSERT_OK(store_->DeleteItem("P1", 4));
  EXPECT_TRUE(*store_->DataChangedSince(*store_->LatestEventSeq() - 1));
}

TEST_P(TenantStoreTrackTest, CatalogChangesAreTheCatalogsEventsAndItemsTrackingCreated) {
  const int64_t start = *store_->LatestEventSeq();
  ASSERT_OK(store_->Track({View("U", "P1")}));  // a tracked interaction: not a catalog change
  EXPECT_FALSE(*store_->CatalogChangedSince(start));
  const int64_t before_upload = *store_->LatestEventSeq();
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  ASSERT_OK((*batch)->AppendEvent(TenantStore::kInteractionsUploaded, "{}", 3));
  ASSERT_OK((*batch)->Commit());
  EXPECT_FALSE(*store_->CatalogChangedSince(before_upload));  // interactions only
  const int64_t before_items = *store_->LatestEventSeq();
  batch = store_->BeginImport();
  ASSERT_OK(batch);
  ASSERT_OK((*batch)->AppendEvent(TenantStore::kItemCatalogUpdated, "{}", 3));
  ASSERT_OK((*batch)->Commit());
  EXPECT_TRUE(*store_->CatalogChangedSince(before_items));
  EXPECT_TRUE(*store_->CatalogChangedSince(start));
  EXPECT_FALSE(*store_->CatalogChangedSince(*store_->LatestEventSeq()));
  // An item a tracked interaction creates is a catalog change (and in the log).
  const int64_t before_new = *store_->LatestEventSeq();
  TrackEvent made = View("U", "MADE-BY-TRACKING");
  made.create_missing_item = true;
  auto r = store_->Track({made});
  ASSERT_OK(r);
  ASSERT_OK((*r)[0].status);
  EXPECT_TRUE(*store_->CatalogChangedSince(before_new));
  auto events = store_->ReadEvents(before_new, 10);
  ASSERT_OK(events);
  bool logged = false;
  for (const auto& e : *events) {
    logged |= e.topic == TenantStore::kItemCatalogUpdated && e.payload_json.find("MADE-BY-TRACKING") != std::string::npos;
  }
  EXPECT_TRUE(logged);
  const int64_t after_new = *store_->LatestEventSeq();
  ASSERT_OK(store_->Track({made}));  // known now: no change
  EXPECT_FALSE(*store_->CatalogChangedSince(after_new));
  ASSERT_OK(store_->DeleteItem("P1", 4));
  EXPECT_TRUE(*store_->CatalogChangedSince(after_new));
}

}  // namespace
}  // namespace embedrec::store

namespace embedrec::store {
namespace {

class TrainingRecordsTest : public OneTenantTest {
 protected:
  ModelVersionRecord Version(int major, int minor, VersionStatus status) {
    ModelVersionRecord v;
    v.version = "v" + std::to_string(major) + "." + std::to_string(minor) + "_20261125";
    v.major = major;
    v.minor = minor;
    v.model_type = "lightgcn";
    v.status = status;
    v.job_id = "job_" + std::to_string(major);
    v.created_at_ms = 1000 * major + minor;
    v.metrics_json = R"({"ndcg@10":0.1})";
    return v;
  }
};

TEST_P(TrainingRecordsTest, JobsAreStoredReplacedAndListedNewestFirstByStatus) {
  auto& t = store_->training();
  EXPECT_EQ(t.GetJob("nope").status().code(), StatusCode::kNotFound);
  JobRecord a{"job_a", JobStatus::kCompleted, "lightgcn", "full", R"({"epochs":3})", "{}", 10, 10};
  JobRecord b{"job_b", JobStatus::kQueued, "als", "full", "{}", "{}", 20, 20};
  ASSERT_OK(t.PutJob(a));
  ASSERT_OK(t.PutJob(b));
  b.status = JobStatus::kTraining;
  b.state_json = R"({"progress":0.5})";
  ASSERT_OK(t.PutJob(b));
  auto got = t.GetJob("job_b");
  ASSERT_OK(got);
  EXPECT_EQ(got->status, JobStatus::kTraining);
  EXPECT_EQ(got->state_json, R"({"progress":0.5})");
  auto all = t.ListJobs({}, 10);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].job_id, "job_b");
  auto running = t.ListJobs({JobStatus::kQueued, JobStatus::kTraining}, 10);
  ASSERT_OK(running);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].job_id, "job_b");
}

TEST_P(TrainingRecordsTest, DeployArchivesThePreviousVersionAndAppendsTheEvent) {
  auto& t = store_->training();
  ASSERT_OK(t.PutVersion(Version(1, 0, VersionStatus::kStandby)));
  ASSERT_OK(t.PutVersion(Version(2, 0, VersionStatus::kStandby)));
  ASSERT_OK(t.PutVersion(Version(1, 1, VersionStatus::kStandby)));
  ASSERT_OK(t.Deploy("v1.0_20261125", "auto", "model-deployed", R"({"v":1})", 5));
  ASSERT_OK(t.Deploy("v2.0_20261125", "gate passed", "model-deployed", R"({"v":2})", 6));
  auto list = t.ListVersions();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].version, "v2.0_20261125");  // newest first by (major, minor)
  EXPECT_EQ((*list)[0].status, VersionStatus::kDeployed);
  EXPECT_EQ((*list)[0].reason, "gate passed");
  EXPECT_EQ((*list)[0].deployed_at_ms, 6);
  EXPECT_EQ((*list)[1].version, "v1.1_20261125");
  EXPECT_EQ((*list)[1].status, VersionStatus::kStandby);
  EXPECT_EQ((*list)[2].status, VersionStatus::kArchived);
  auto events = store_->ReadEvents(0, 10);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].topic, "model-deployed");
  EXPECT_EQ((*events)[1].payload_json, R"({"v":2})");
  EXPECT_EQ(t.Deploy("v9.9_x", "", "model-deployed", "{}", 7).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ReadEvents(0, 10)->size(), 2u);  // nothing appended for a failed deploy
  // The deployed version cannot be deleted; another can.
  EXPECT_EQ(t.DeleteVersion("v2.0_20261125").code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(t.DeleteVersion("v1.0_20261125"));
  EXPECT_EQ(t.DeleteVersion("v1.0_20261125").code(), StatusCode::kNotFound);
  EXPECT_EQ(t.ListVersions()->size(), 2u);
}

TEST_P(TrainingRecordsTest, ATrafficSplitIsRecordedAndADeployEndsIt) {
  auto& t = store_->training();
  ASSERT_OK(t.PutVersion(Version(1, 0, VersionStatus::kStandby)));
  ASSERT_OK(t.PutVersion(Version(2, 0, VersionStatus::kStandby)));
  ASSERT_OK(t.PutVersion(Version(3, 0, VersionStatus::kStandby)));
  ASSERT_OK(t.Deploy("v1.0_20261125", "first", "model-deployed", "{}", 10));
  auto weights = [&] {
    std::map<std::string, double> out;
    auto versions = t.ListVersions();
    EXPECT_TRUE(versions.ok());
    for (const auto& v : *versions) out[v.version] = v.traffic_weight;
    return out;
  };
  EXPECT_EQ(weights()["v1.0_20261125"], 1.0);
  // The deployed version must be in the split; unknown versions are refused; nothing changes.
  EXPECT_EQ(t.SetTraffic({{"v2.0_20261125", 1}}, "traffic-changed", "{}", 20).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.SetTraffic({{"v1.0_20261125", 1}, {"v9.0_20261125", 1}}, "traffic-changed", "{}", 20).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(weights()["v1.0_20261125"], 1.0);
  ASSERT_OK(t.SetTraffic({{"v1.0_20261125", 9}, {"v2.0_20261125", 1}}, "traffic-changed", R"({"n":2})", 30));
  auto w = weights();
  EXPECT_EQ(w["v1.0_20261125"], 9.0);
  EXPECT_EQ(w["v2.0_20261125"], 1.0);
  EXPECT_EQ(w["v3.0_20261125"], 0.0);
  auto events = store_->ReadEvents(0, 100);
  ASSERT_OK(events);
  EXPECT_EQ(events->back().topic, "traffic-changed");
  // A version with traffic cannot be deleted; one without can.
  EXPECT_EQ(t.DeleteVersion("v2.0_20261125").code(), StatusCode::kFailedPrecondition);
  // A deploy gives the new version all the traffic.
  ASSERT_OK(t.Deploy("v3.0_20261125", "by hand", "model-deployed", "{}", 40));
  w = weights();
  EXPECT_EQ(w["v3.0_20261125"], 1.0);
  EXPECT_EQ(w["v1.0_20261125"], 0.0);
  EXPECT_EQ(w["v2.0_20261125"], 0.0);
  ASSERT_OK(t.DeleteVersion("v2.0_20261125"));
}

TEST_P(TrainingRecordsTest, ScanInteractionsSeesEveryRowWithAnItem) {
  {
    auto items = store_->BeginImport();
    ASSERT_OK(items);
    ItemRecord item;
    item.item_id = "P1";
    ASSERT_OK((*items)->UpsertItem(item, 1));
    item.item_id = "P2";
    ASSERT_OK((*items)->UpsertItem(item, 1));
    ASSERT_OK((*items)->Commit());
  }
  const IdMap idx = ItemIdx(*store_);
  const int64_t p1 = idx.at("P1"), p2 = idx.at("P2");
  auto batch = store_->BeginImport();
  ASSERT_OK(batch);
  auto u = (*batch)->EnsureUser("U1", 1);
  ASSERT_OK(u);
  InteractionRecord r;
  r.user_idx = *u;
  r.item_idx = p1;
  r.type = "view";
  r.ts_ms = 100;
  ASSERT_OK((*batch)->InsertInteraction(r));
  r.item_idx = p2;
  r.type = "purchase";
  ASSERT_OK((*batch)->InsertInteraction(r));
  r.item_idx.reset();  // an impression without an item is not a training row
  r.type = "recommendations_shown";
  ASSERT_OK((*batch)->InsertInteraction(r));
  ASSERT_OK((*batch)->Commit());
  std::multiset<std::string> seen;
  ASSERT_OK(store_->ScanInteractions([&](const TenantStore::InteractionRow& row) {
    seen.insert(std::to_string(row.user_idx) + ":" + std::to_string(row.item_idx) + ":" + row.type + ":" +
                std::to_string(row.ts_ms));
  }));
  std::multiset<std::string> want = {std::to_string(*u) + ":" + std::to_string(p1) + ":view:100",
                                     std::to_string(*u) + ":" + std::to_string(p2) + ":purchase:100"};
  EXPECT_EQ(seen, want);
}

INSTANTIATE_TEST_SUITE_P(Backends, TenantSpacesTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Backends, TenantStoreTrackTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Backends, TrainingRecordsTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::store
