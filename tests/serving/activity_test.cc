// Real-time activity (profiles, trending, context lifts) and filters.
#include "serving/activity.h"

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "ml/dataset.h"
#include "serving/recommender.h"
#include "tenant_fixture.h"

namespace embedrec::serving {
namespace {

class ActivityTest : public TenantStoreTest {
 protected:
  void SetUp() override {
    TenantStoreTest::SetUp();
    AddItems({"A", "B", "C"});
    auto batch = store_->BeginImport();
    auto u = (*batch)->EnsureUser("u1", 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.item_idx = Idx("A");
    r.type = "purchase";
    r.ts_ms = clock_.NowMillis() - 86400000;
    ASSERT_OK((*batch)->InsertInteraction(r));
    r.item_idx = Idx("B");
    r.type = "view";
    ASSERT_OK((*batch)->InsertInteraction(r));
    ASSERT_OK((*batch)->Commit());
  }
  // Purchases that reach the store without passing through Record (another node took them).
  void StorePurchases(const std::string& user, const std::string& item, int n) {
    auto batch = store_->BeginImport();
    auto u = (*batch)->EnsureUser(user, 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.item_idx = Idx(item);
    r.type = "purchase";
    for (int i = 0; i < n; ++i) {
      r.ts_ms = clock_.NowMillis() - i;
      ASSERT_OK((*batch)->InsertInteraction(r));
    }
    ASSERT_OK((*batch)->Commit());
  }
  store::TrackEvent Event(const std::string& user, const std::string& item, const std::string& type) {
    store::TrackEvent e;
    e.user_id = user;
    e.item_id = item;
    e.type = type;
    e.ts_ms = clock_.NowMillis();
    return e;
  }
};

TEST_F(ActivityTest, ProfilesLoadFromTheStoreAndFollowTrackedEvents) {
  Activity a(&clock_);
  auto p = a.Profile(id_, *store_, "u1");
  ASSERT_OK(p);
  EXPECT_EQ((*p)->purchased, (std::set<std::string>{"A"}));
  EXPECT_EQ((*p)->interacted, (std::set<std::string>{"A", "B"}));
  ASSERT_EQ((*p)->recent.size(), 2u);
  const uint64_t v = (*p)->version;
  a.Record(id_, Event("u1", "C", "purchase"), "", {});
  auto q = a.Profile(id_, *store_, "u1");
  EXPECT_NE((*q)->version, v);
  EXPECT_TRUE((*q)->purchased.count("C"));
  EXPECT_EQ((*q)->recent.back().item_id, "C");
  EXPECT_EQ((*p)->recent.size(), 2u);  // a reader's copy does not change under it
  auto unknown = a.Profile(id_, *store_, "nobody");
  ASSERT_OK(unknown);
  EXPECT_TRUE((*unknown)->recent.empty());
}

TEST_F(ActivityTest, ARecentListStaysInTimeOrderWithTiesInArrivalOrderAndKeepsTheNewest) {
  Activity a(&clock_);
  ASSERT_OK(a.Profile(id_, *store_, "u1"));  // two events a day old
  const int64_t now = clock_.NowMillis();
  // Out of time order, with ties: 60 more events at times now - 10·(k mod 20),
  // the first 20 of item A, the next B, the last C.
  for (int k = 0; k < 60; ++k) {
    store::TrackEvent e = Event("u1", k < 20 ? "A" : k < 40 ? "B" : "C", "view");
    e.ts_ms = now - 10 * (k % 20);
    a.Record(id_, e, "", {});
  }
  auto p = a.Profile(id_, *store_, "u1");
  ASSERT_OK(p);
  const auto& recent = (*p)->recent;
  ASSERT_EQ(recent.size(), Activity::kRecent);
  for (size_t i = 1; i < recent.size(); ++i) ASSERT_LE(recent[i - 1].ts_ms, recent[i].ts_ms) << i;
  // The newest 50 of 62: the day-old two, times now - 190 to now - 170 and
  // the first of now - 160 (A) left out; ties in the order they came.
  EXPECT_EQ(recent.front().ts_ms, now - 160);
  EXPECT_EQ(recent.front().item_id, "B");
  EXPECT_EQ(recent[1].item_id, "C");
  EXPECT_EQ(recent.back().ts_ms, now);
  EXPECT_EQ(recent[recent.size() - 3].item_id, "A");
  EXPECT_EQ(recent[recent.size() - 2].item_id, "B");
  EXPECT_EQ(recent.back().item_id, "C");
}

TEST_F(ActivityTest, TrendingComesFromTheHistoryAndMovesAtOnce) {
  Activity a(&clock_);
  auto t = a.Trending(id_, store_);
  ASSERT_OK(t);
  ASSERT_EQ((*t)->Top(100).size(), 2u);
  EXPECT_EQ((*t)->Top(100)[0].first, "A");  // a purchase outweighs a view
  for (int i = 0; i < 3; ++i) a.Record(id_, Event("u" + std::to_string(i), "C", "purchase"), "", {});
  t = a.Trending(id_, store_);
  EXPECT_EQ((*t)->Top(100)[0].first, "C");
}

TEST_F(ActivityTest, NewerEventsOutweighOlderOnesByTheHalfLife) {
  Activity a(&clock_);
  a.SetTrendMinUsers(1);  // the plain half-life, however few the users
  clock_.AdvanceSeconds(int64_t{7} * 86400);
  ASSERT_OK(a.Trending(id_, store_));  // A: a purchase (5) 8 days ago, B: a view (1)
  // 8 days without any event count as one day of activity: 3 × 2^(1/7) vs 5.
  a.Record(id_, Event("u9", "C", "add_to_cart"), "", {});
  auto t = *a.Trending(id_, store_);
  ASSERT_EQ(t->Top(100).size(), 3u);
  EXPECT_EQ(t->Top(100)[0].first, "A");
  EXPECT_EQ(t->Top(100)[1].first, "C");
  EXPECT_NEAR(t->Top(100)[1].second / t->Top(100)[0].second, 3.0 / 5 * std::exp2(1.0 / 7), 1e-9);
  // Steady activity: events every 12 hours for 180 days (each by another
  // visitor) decay everything before them by the half-life; past 20
  // halvings the weights are re-based. The events reach the store too, so
  // the rebuilds every 10 minutes must agree with the tracked path.
  auto track = [&](const store::TrackEvent& e) {
    ASSERT_OK(store_->Track({e}));
    a.Record(id_, e, "", {});
  };
  for (int h = 1; h <= 360; ++h) {
    clock_.AdvanceSeconds(12 * 3600);
    track(Event("v" + std::to_string(h), "C", "view"));
  }
  track(Event("u9", "B", "view"));  // B: its stored view, and this one now
  t = *a.Trending(id_, store_);
  EXPECT_EQ(t->Top(100)[0].first, "C");
  // 8.5 idle days count as 1, then 359 steps of 12 hours.
  const double expected = 5 / (1 + std::exp2(180.5 / 7));
  EXPECT_NEAR(t->Score("A") / t->Score("B") / expected, 1, 1e-9);
  const uint64_t builds = a.TrendBuilds();
  clock_.AdvanceSeconds(11 * 60);  // rebuilt from the store: the same figures
  ASSERT_OK(a.Trending(id_, store_));
  t = *a.Trending(id_, store_);
  EXPECT_EQ(a.TrendBuilds(), builds + 1);
  EXPECT_NEAR(t->Score("A") / t->Score("B") / expected, 1, 1e-9);
}

// A sparse history (a visitor a day): the half-life reaches back to the
// 50th most recent user, and the last few visitors do not make the list
// alone. With the plain 7 days, the ten newest do.
TEST_F(ActivityTest, ASparseHistoryWidensTheHalfLifeToItsNewestUsers) {
  auto batch = store_->BeginImport();
  for (int i = 0; i < 60; ++i) {
    auto u = (*batch)->EnsureUser("s" + std::to_string(i), 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.item_idx = Idx(i < 10 ? "B" : "C");
    r.type = "purchase";
    r.ts_ms = clock_.NowMillis() - (2 + int64_t{i}) * 86400000;
    ASSERT_OK((*batch)->InsertInteraction(r));
  }
  ASSERT_OK((*batch)->Commit());
  Activity wide(&clock_);
  auto t = *wide.Trending(id_, store_);
  EXPECT_EQ(t->Top(3)[0].first, "C");
  // 50 purchases of C against 10 of B, the newest: their ratio about 3
  // when the half-life spans the 50 newest users (~50 days), 5 without decay.
  EXPECT_GT(t->Score("C") / t->Score("B"), 2.5);
  EXPECT_LT(t->Score("C") / t->Score("B"), 5);
  Activity narrow(&clock_);
  narrow.SetTrendMinUsers(1);
  t = *narrow.Trending(id_, store_);
  EXPECT_EQ(t->Top(3)[0].first, "B");
  // Tracked events decay by the built half-life: one purchase now does not
  // outweigh 50 over the last two months.
  wide.Record(id_, Event("new", "A", "purchase"), "", {});
  t = *wide.Trending(id_, store_);
  EXPECT_LT(t->Score("A"), t->Score("C") / 5);
}

TEST_F(ActivityTest, TrendingOverlayRanksAsAFullSortWould) {
  // Many events over few items and many items: snapshots are the base plus
  // an overlay of changed items, re-ranked past a bound; every snapshot must
  // rank exactly as sorting all scores would, with the same scores.
  Activity a(&clock_);
  ASSERT_OK(a.Trending(id_, store_));
  std::map<std::string, double> truth;
  for (const auto& [id, s] : (*a.Trending(id_, store_))->Top(100)) truth[id] = s;
  std::mt19937 rng(3);
  const char* types[] = {"view", "add_to_cart", "purchase"};
  for (int e = 0; e < 1500; ++e) {
    const std::string item = "I" + std::to_string(rng() % (e < 700 ? 900 : 40));
    const std::string type = types[rng() % 3];
    a.Record(id_, Event("u" + std::to_string(e), item, type), "", {});  // a pair counts once: one user each
    // All at the same time, a day after the stored events (the reference).
    truth[item] += interactions::DefaultTypeWeight(type) * std::exp2(1.0 / 7);
    if (e % 97 != 0 && e != 1499) continue;
    auto t = *a.Trending(id_, store_);
    std::vector<std::pair<std::string, double>> want(truth.begin(), truth.end());
    std::sort(want.begin(), want.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    auto got = t->Top(want.size() + 5);
    ASSERT_EQ(got.size(), want.size()) << "after event " << e;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].first, want[i].first) << "rank " << i << " after event " << e;
      ASSERT_NEAR(got[i].second, want[i].second, 1e-9);
      ASSERT_NEAR(t->Score(want[i].first), want[i].second, 1e-9);
    }
    double total = 0;  // every item's score: what shares are taken of
    for (const auto& [item, score] : want) total += score;
    EXPECT_NEAR(t->total_score, total, 1e-9 * total);
    EXPECT_FALSE(t->Contains("never-seen"));
    EXPECT_EQ(t->Score("never-seen"), 0);
  }
}

TEST_F(ActivityTest, TrendingIsReadFromTheStoreAgainAfterTenMinutes) {
  Activity a(&clock_);
  ASSERT_OK(a.Trending(id_, store_));
  StorePurchases("u2", "C", 3);
  EXPECT_EQ((*a.Trending(id_, store_))->Top(1)[0].first, "A");  // still the kept one
  EXPECT_EQ(a.TrendBuilds(), 1u);
  clock_.AdvanceSeconds(11 * 60);
  EXPECT_EQ((*a.Trending(id_, store_))->Top(1)[0].first, "C");  // the next request rebuilds
  EXPECT_EQ(a.TrendBuilds(), 2u);
}

TEST_F(ActivityTest, ExpiredTrendingIsRebuiltInTheBackgroundWhileRequestsUseTheOldOne) {
  Activity a(&clock_);
  std::vector<std::function<void()>> queued;
  a.SetBackground([&](const std::string& tid, std::function<void()> task) {
    EXPECT_EQ(tid, id_);
    queued.push_back(std::move(task));
  });
  auto top = [&] { return (*a.Trending(id_, store_))->Top(1)[0].first; };
  EXPECT_EQ(top(), "A");  // the first build is made by the request
  EXPECT_EQ(a.TrendBuilds(), 1u);
  EXPECT_TRUE(queued.empty());
  StorePurchases("u2", "C", 3);
  clock_.AdvanceSeconds(11 * 60);
  EXPECT_EQ(top(), "A");  // answered at once, from the expired one
  EXPECT_EQ(top(), "A");
  EXPECT_EQ(a.TrendBuilds(), 1u);
  ASSERT_EQ(queued.size(), 1u);  // one rebuild, however many requests
  queued[0]();
  queued.clear();
  EXPECT_EQ(a.TrendBuilds(), 2u);
  EXPECT_EQ(top(), "C");
  EXPECT_TRUE(queued.empty());
  // A rebuild that raced an upload is dropped: the next request builds afresh.
  clock_.AdvanceSeconds(11 * 60);
  EXPECT_EQ(top(), "C");
  ASSERT_EQ(queued.size(), 1u);
  StorePurchases("u3", "B", 5);
  a.DataChanged(id_);
  queued[0]();
  queued.clear();
  EXPECT_FALSE(a.Warm(id_));
  EXPECT_EQ(top(), "B");
  EXPECT_EQ(a.TrendBuilds(), 4u);
  EXPECT_TRUE(queued.empty());
}

TEST_F(ActivityTest, ACostlyBuildIsPersistedAndReadBackWhileOnlyTrackingChangedTheData) {
  std::vector<std::function<void()>> queued;
  auto background = [&](const std::string&, std::function<void()> task) { queued.push_back(std::move(task)); };
  Activity a(&clock_);
  a.SetPersistAfterMs(0);  // persist every build
  a.SetBackground(background);
  auto built = *a.Trending(id_, store_);
  EXPECT_EQ(a.TrendBuilds(), 1u);
  ASSERT_OK(store_->GetSnapshot("popularity"));
  // A tracked event (stored; another node's): still current.
  auto e = Event("u6", "B", "view");
  ASSERT_OK(store_->Track({e}));
  // A restart a minute later: read back, not built, the same figures.
  clock_.AdvanceSeconds(60);
  Activity b(&clock_);
  b.SetBackground(background);
  auto loaded = *b.Trending(id_, store_);
  EXPECT_EQ(b.TrendBuilds(), 0u);
  EXPECT_EQ(b.TrendLoads(), 1u);
  ASSERT_EQ(loaded->Top(10), built->Top(10));
  EXPECT_EQ(loaded->has_purchases, built->has_purchases);
  EXPECT_TRUE(queued.empty());  // rebuilt 10 minutes after it was built, as any
  clock_.AdvanceSeconds(9 * 60);
  EXPECT_EQ((*b.Trending(id_, store_)).get(), loaded.get());
  ASSERT_EQ(queued.size(), 1u);
  queued[0]();
  queued.clear();
  EXPECT_EQ(b.TrendBuilds(), 1u);
  EXPECT_GT((*b.Trending(id_, store_))->Score("B"), loaded->Score("B"));  // the tracked view, now counted
  // An upload after the snapshot makes it stale: built.
  StorePurchases("u7", "C", 1);
  auto batch = store_->BeginImport();
  ASSERT_OK((*batch)->AppendEvent("interactions-uploaded", "{}", clock_.NowMillis()));
  ASSERT_OK((*batch)->Commit());
  Activity c(&clock_);
  ASSERT_OK(c.Trending(id_, store_));
  EXPECT_EQ(c.TrendLoads(), 0u);
  EXPECT_EQ(c.TrendBuilds(), 1u);
  // Other interaction-type weights: built too.
  Activity d(&clock_, [](const std::string&) {
    return interactions::TypeWeights(interactions::TypeWeights::Overrides{{"view", 2.0f}});
  });
  d.SetPersistAfterMs(0);
  ASSERT_OK(d.Trending(id_, store_));  // built, and persisted with its weights
  Activity e2(&clock_);
  ASSERT_OK(e2.Trending(id_, store_));
  EXPECT_EQ(e2.TrendLoads(), 0u);
  EXPECT_EQ(e2.TrendBuilds(), 1u);
  // A damaged snapshot is refused (built instead), never half read.
  auto snap = *store_->GetSnapshot("popularity");
  snap.bytes[snap.bytes.size() / 2] ^= 0x5a;
  ASSERT_OK(store_->PutSnapshot("popularity", snap.position, snap.bytes, 0));
  Activity f(&clock_, [](const std::string&) {
    return interactions::TypeWeights(interactions::TypeWeights::Overrides{{"view", 2.0f}});
  });
  ASSERT_OK(f.Trending(id_, store_));
  EXPECT_EQ(f.TrendLoads(), 0u);
  EXPECT_EQ(f.TrendBuilds(), 1u);
}

TEST_F(ActivityTest, ContextLiftsAreLearnedAndBounded) {
  Activity a(&clock_);
  EXPECT_DOUBLE_EQ(a.ContextFactor(id_, {{"device", "mobile"}}, "phones"), 1.0);  // no evidence
  for (int i = 0; i < 200; ++i) {
    bool mobile = i % 2 == 0;
    a.Record(id_, Event("u", "A", "view"), mobile ? "phones" : "books",
             {{"device", mobile ? "mobile" : "desktop"}});
  }
  const double phones_on_mobile = a.ContextFactor(id_, {{"device", "mobile"}}, "phones");
  const double books_on_mobile = a.ContextFactor(id_, {{"device", "mobile"}}, "books");
  EXPECT_GT(phones_on_mobile, 1.2);
  EXPECT_LT(books_on_mobile, 0.8);
  EXPECT_LE(phones_on_mobile, 2.0);
  EXPECT_GE(books_on_mobile, 0.5);
  EXPECT_DOUBLE_EQ(a.ContextFactor(id_, {{"device", "tv"}}, "phones"), 1.0);  // unseen context
}

TEST_F(ActivityTest, ContextLiftsAreReadFromStoredContexts) {
  // History uploaded (or tracked before a restart) with contexts: phones on
  // mobile, books on desktop. A new Activity learns the lifts from the store.
  auto batch = store_->BeginImport();
  store::ItemRecord item;
  item.item_id = "phone";
  item.category = "phones";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  item.item_id = "novel";
  item.category = "books";
  ASSERT_OK((*batch)->UpsertItem(item, 1));
  ASSERT_OK((*batch)->Commit());
  auto idx = store_->LoadItemIndex();
  ASSERT_OK(idx);
  batch = store_->BeginImport();
  auto u = (*batch)->EnsureUser("u7", 1);
  store::InteractionRecord r;
  r.user_idx = *u;
  r.type = "view";
  for (int i = 0; i < 200; ++i) {
    const bool mobile = i % 2 == 0;
    r.item_idx = idx->at(mobile ? "phone" : "novel");
    r.ts_ms = clock_.NowMillis() - 1000 - i;
    r.context_json = mobile ? R"({"device":"mobile","page":"home"})" : R"({"device":"desktop"})";
    ASSERT_OK((*batch)->InsertInteraction(r));
  }
  ASSERT_OK((*batch)->Commit());
  Activity a(&clock_);
  EXPECT_DOUBLE_EQ(a.ContextFactor(id_, {{"device", "mobile"}}, "phones"), 1.0);  // nothing read yet
  ASSERT_OK(a.Trending(id_, store_));
  EXPECT_GT(a.ContextFactor(id_, {{"device", "mobile"}}, "phones"), 1.2);
  EXPECT_LT(a.ContextFactor(id_, {{"device", "mobile"}}, "books"), 0.8);
  EXPECT_GT(a.ContextFactor(id_, {{"device", "desktop"}}, "books"), 1.2);
  EXPECT_EQ(Activity::ContextFields(R"({"device":"tv","page":"home","x":"y","time_of_day":7})"),
            (Activity::ContextPairs{{"page", "home"}, {"device", "tv"}}));
  EXPECT_TRUE(Activity::ContextFields("not json").empty());
}

TEST_F(ActivityTest, WarmOnceTrendingIsInMemoryUntilTheDataChanges) {
  Activity a(&clock_);
  EXPECT_FALSE(a.Warm(id_));
  ASSERT_OK(a.Trending(id_, store_));
  EXPECT_TRUE(a.Warm(id_));
  ASSERT_OK(a.Profile(id_, *store_, "u1"));
  EXPECT_TRUE(a.Warm(id_));
  a.DataChanged(id_);  // an upload: the next request reads the store again
  EXPECT_FALSE(a.Warm(id_));
  ASSERT_OK(a.Trending(id_, store_));
  EXPECT_TRUE(a.Warm(id_));
  a.Drop(id_);
  EXPECT_FALSE(a.Warm(id_));
}

TEST_F(ActivityTest, ConcurrentFirstRequestsBuildTrendingOnce) {
  auto batch = store_->BeginImport();
  auto u = (*batch)->EnsureUser("heavy", 1);
  store::InteractionRecord r;
  r.user_idx = *u;
  r.type = "view";
  const int64_t abc[] = {Idx("A"), Idx("B"), Idx("C")};
  for (int i = 0; i < 30000; ++i) {  // enough that a build takes a while
    r.item_idx = abc[i % 3];
    r.ts_ms = clock_.NowMillis() - 10 * i - 1;
    ASSERT_OK((*batch)->InsertInteraction(r));
  }
  ASSERT_OK((*batch)->Commit());
  Activity a(&clock_);
  auto got = AllAtOnce(8, [&] { return a.Trending(id_, store_); });
  EXPECT_EQ(a.TrendBuilds(), 1u);
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
  ASSERT_NE(got[0], nullptr);
}

TEST_F(ActivityTest, TenantTypeWeightsDecideTrendingAndProfiles) {
  // The tenant weighs views above purchases and ignores add_to_cart: trending
  // and profiles follow its weights, not the defaults.
  interactions::TypeWeights w(interactions::TypeWeights::Overrides{{"view", 10}, {"add_to_cart", 0}, {"wishlist", 4}});
  Activity a(&clock_, [&](const std::string&) { return w; });
  auto t = *a.Trending(id_, store_);
  EXPECT_EQ(t->Top(10)[0].first, "B");  // its view (10) outweighs A's purchase (5)
  a.Record(id_, Event("u2", "C", "add_to_cart"), "", {});
  EXPECT_FALSE((*a.Trending(id_, store_))->Contains("C"));
  a.Record(id_, Event("u2", "C", "wishlist"), "", {});  // a custom type with its weight
  EXPECT_TRUE((*a.Trending(id_, store_))->Contains("C"));
  auto p = *a.Profile(id_, *store_, "u1");
  ASSERT_EQ(p->recent.size(), 2u);
  for (const auto& e : p->recent) EXPECT_EQ(e.weight, e.type == "view" ? 10.f : 5.f);
}

TEST_F(ActivityTest, ExclusionsCoverTheWholeHistory) {
  // 700 views after the purchase: the purchase is far beyond the newest
  // events a profile keeps, and still excluded.
  auto batch = store_->BeginImport();
  store::ItemRecord item;
  for (int i = 0; i < 700; ++i) {
    item.item_id = "V" + std::to_string(i);
    ASSERT_OK((*batch)->UpsertItem(item, 1));
  }
  auto idx = store_->LoadItemIndex();
  ASSERT_OK((*batch)->Commit());
  batch = store_->BeginImport();
  auto u = (*batch)->EnsureUser("heavy", 1);
  store::InteractionRecord r;
  r.user_idx = *u;
  r.item_idx = Idx("A");
  r.type = "purchase";
  r.ts_ms = 1000;
  ASSERT_OK((*batch)->InsertInteraction(r));
  auto items = store_->LoadItemIndex();
  for (int i = 0; i < 700; ++i) {
    r.item_idx = items->at("V" + std::to_string(i));
    r.type = "view";
    r.ts_ms = 2000 + i;
    ASSERT_OK((*batch)->InsertInteraction(r));
  }
  ASSERT_OK((*batch)->Commit());
  Activity a(&clock_);
  auto p = *a.Profile(id_, *store_, "heavy");
  EXPECT_TRUE(p->purchased.count("A"));
  EXPECT_EQ(p->interacted.size(), 701u);
  EXPECT_LE(p->recent.size(), Activity::kRecent);
  EXPECT_EQ(p->recent.back().item_id, "V699");
}

TEST_F(ActivityTest, OneVisitorCannotTakeOverTrending) {
  // An uploaded history a year old, then live events stamped now (and one
  // stamped in the future): the gap counts as a day of activity, a pair
  // counts once, so one visitor moves an item by one event's weight at most.
  auto batch = store_->BeginImport();
  store::ItemRecord item;
  for (int i = 0; i < 20; ++i) {
    item.item_id = "P" + std::to_string(i);
    ASSERT_OK((*batch)->UpsertItem(item, 1));
  }
  ASSERT_OK((*batch)->Commit());
  auto items = *store_->LoadItemIndex();
  batch = store_->BeginImport();
  const int64_t year_ago = clock_.NowMillis() - int64_t{365} * 86400000;
  store::InteractionRecord r;
  for (int u = 0; u < 40; ++u) {
    r.user_idx = *(*batch)->EnsureUser("old" + std::to_string(u), 1);
    for (int i = 0; i < 20 - u / 2; ++i) {  // P0 by everyone, P19 by few
      r.item_idx = items.at("P" + std::to_string(i));
      r.type = "purchase";
      r.ts_ms = year_ago + u * 60000;
      ASSERT_OK((*batch)->InsertInteraction(r));
    }
  }
  ASSERT_OK((*batch)->Commit());
  Activity a(&clock_);
  auto before = (*a.Trending(id_, store_))->Top(5);
  ASSERT_EQ(before[0].first, "P0");
  auto ev = Event("visitor", "C", "purchase");
  for (int i = 0; i < 50; ++i) a.Record(id_, ev, "", {});  // repeated: counts once
  ev.ts_ms += int64_t{1000} * 86400000;                   // a lying future timestamp: counts as now
  a.Record(id_, ev, "", {});
  auto t = *a.Trending(id_, store_);
  EXPECT_EQ(t->Top(5)[0].first, "P0");
  EXPECT_LT(t->Score("C"), 0.2 * t->Top(1)[0].second);
  EXPECT_NEAR(t->Score("C"), 5 * std::exp2(1.0 / 7), 1e-6);  // one purchase, a day of activity later
  // Rebuilt from the store (where the live events now are): the same picture.
  clock_.AdvanceSeconds(11 * 60);
  ASSERT_OK(store_->Track({[&] {
    store::TrackEvent e = Event("visitor", "P19", "purchase");
    return e;
  }()}));
  t = *a.Trending(id_, store_);
  t = *a.Trending(id_, store_);
  EXPECT_EQ(t->Top(1)[0].first, "P0");
}

TEST(FiltersTest, EachFieldAndAvailability) {
  CatalogItem item;
  item.item_id = "P1";
  item.category = "cameras";
  item.brand = "Acme";
  item.price = 20;
  item.tags = {"sale"};
  Filters f;
  EXPECT_TRUE(f.Matches(item));
  item.available = false;
  EXPECT_FALSE(f.Matches(item));  // never, whatever the filters
  item.available = true;
  f.categories = {"books"};
  EXPECT_FALSE(f.Matches(item));
  f.categories = {"books", "cameras"};
  EXPECT_TRUE(f.Matches(item));
  f.price_min = 21;
  EXPECT_FALSE(f.Matches(item));
  f.price_min = 20;
  f.price_max = 20;
  EXPECT_TRUE(f.Matches(item));
  f.brand = "Globex";
  EXPECT_FALSE(f.Matches(item));
  f.brand = "Acme";
  f.tags_any = {"new"};
  EXPECT_FALSE(f.Matches(item));
  f.tags_any = {"new", "sale"};
  EXPECT_TRUE(f.Matches(item));
  f.in_stock_only = true;
  item.in_stock = false;
  EXPECT_FALSE(f.Matches(item));
  item.in_stock = true;
  f.exclude_item_ids = {"P1"};
  EXPECT_FALSE(f.Matches(item));
  f.exclude_item_ids.clear();
  f.include_item_ids = {"P2"};
  EXPECT_FALSE(f.Matches(item));
  item.price.reset();
  f.include_item_ids.clear();
  EXPECT_FALSE(f.Matches(item));  // a price filter needs a price
}

}  // namespace
}  // namespace embedrec::serving
