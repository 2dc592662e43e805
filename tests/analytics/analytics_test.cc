// The analytics service: what requests count, and the attribution rules
// (analytics/attribution.h) over a real recommendation log and store.
#include "analytics/analytics.h"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "common/clock.h"
#include "test_util.h"

namespace embedrec::analytics {
namespace {

constexpr int64_t kMinute = 60'000;

class AnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/t1");
    std::filesystem::create_directories(dir_.path() + "/t2");
    log_ = store::NewSqliteRecommendationLog(dir_.path(), &clock_);
    store_ = store::NewSqliteAnalyticsStore(dir_.path());
    AnalyticsOptions o;
    o.flush_interval_ms = 3'600'000;  // flushed by the tests only
    analytics_ = std::make_unique<Analytics>(store_.get(), log_.get(), &clock_, o);
  }
  // An answer to `user` showing `items`, logged and counted now.
  std::string Answer(const std::string& tenant, const std::string& user, std::vector<std::string> items,
                     const std::string& version = "v1", bool cached = false) {
    store::RecommendationRecord r;
    r.id = "rec_" + std::to_string(++answers_);
    r.tenant_id = tenant;
    r.user_id = user;
    r.endpoint = "recommendations";
    r.model_version = version;
    for (const auto& i : items) r.items.push_back({i, 0.5});
    r.ts_ms = clock_.NowMillis();
    r.cached = cached;
    log_->Append(r);
    analytics_->Served(tenant, "k1", "recommendations", version, items, cached, user);
    return r.id;
  }
  void Track(const std::string& tenant, const std::string& user, const std::string& item, const std::string& type,
             const std::string& rec_id = "", std::optional<double> price = std::nullopt,
             std::optional<double> quantity = std::nullopt, std::optional<double> catalog_price = std::nullopt) {
    TrackedEvent e;
    e.user_id = user;
    e.item_id = item;
    e.type = type;
    e.recommendation_id = rec_id;
    e.ts_ms = clock_.NowMillis();
    e.price = price;
    e.quantity = quantity;
    e.catalog_price = catalog_price;
    analytics_->Tracked(tenant, e);
  }
  Report Figures(const std::string& tenant = "t1") {
    EXPECT_OK(analytics_->Flush());
    auto r = analytics_->Summarize(tenant, 0, INT64_MAX);
    EXPECT_OK(r);
    return r.ok() ? *r : Report{};
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::RecommendationLog> log_;
  std::unique_ptr<store::AnalyticsStore> store_;
  std::unique_ptr<Analytics> analytics_;
  int answers_ = 0;
};

TEST_F(AnalyticsTest, CountsCallsAnswersAndCacheHits) {
  analytics_->Call("t1", "k1", "POST /api/v1/recommendations", 200, 2.0);
  analytics_->Call("t1", "k1", "POST /api/v1/recommendations", 200, 4.0);
  analytics_->Call("t1", "", "GET /api/v1/models", 404, 1.0);
  Answer("t1", "u1", {"A", "B"});
  Answer("t1", "u1", {"A", "B"}, "v1", /*cached=*/true);
  Report r = Figures();
  EXPECT_EQ(r.total.calls, 3);
  EXPECT_EQ(r.total.errors, 1);
  EXPECT_DOUBLE_EQ(r.total.latency.Average(), 7.0 / 3.0);
  EXPECT_EQ(r.total.served, 2);
  EXPECT_DOUBLE_EQ(r.total.cache_hit_rate(), 0.5);
  EXPECT_EQ(r.total.items_shown, 4);
  EXPECT_EQ(r.by_key["k1"].calls, 2);
  EXPECT_EQ(r.by_key[""].calls, 1);
  auto top = analytics_->TopItems("t1", 0, INT64_MAX, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].second.impressions, 2);
  // Another tenant saw none of it.
  EXPECT_EQ(Figures("t2").total.calls, 0);
}

TEST_F(AnalyticsTest, CountsAddUpOverManyFlushesAndHours) {
  int64_t calls = 0;
  for (int round = 0; round < 7; ++round) {  // both sets of every shard are drained several times
    for (int i = 0; i <= round; ++i, ++calls) analytics_->Call("t1", "k1", "GET /x", 200, 1.0);
    Answer("t1", "u1", {"A", "B"});
    ASSERT_OK(analytics_->Flush());
    clock_.AdvanceMillis(round % 3 == 2 ? 3'600'000 : 1000);  // now and then a new hour
  }
  Report r = Figures();
  EXPECT_EQ(r.total.calls, calls);
  EXPECT_EQ(r.total.served, 7);
  auto top = analytics_->TopItems("t1", 0, INT64_MAX, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].second.impressions, 7);
}

TEST_F(AnalyticsTest, RecentPeriodsAreCountedToTheMinuteAndSeriesByTheMinuteStayWithinWhatIsKept) {
  constexpr int64_t kMinute = 60'000;
  analytics_->Call("t1", "k1", "GET /x", 200, 1.0);
  ASSERT_OK(analytics_->Flush());
  clock_.AdvanceMillis(40 * kMinute);
  analytics_->Call("t1", "k1", "GET /x", 200, 1.0);
  analytics_->Call("t1", "k1", "GET /x", 500, 1.0);
  ASSERT_OK(analytics_->Flush());
  const int64_t now = clock_.NowMillis();
  // The last 30 minutes: the two later calls only, whichever hours they fall in.
  auto r = analytics_->Summarize("t1", now - 30 * kMinute, now + 1);
  ASSERT_OK(r);
  EXPECT_EQ(r->total.calls, 2);
  EXPECT_EQ(r->total.errors, 1);
  r = analytics_->Summarize("t1", now - 50 * kMinute, now + 1);
  ASSERT_OK(r);
  EXPECT_EQ(r->total.calls, 3);
  auto series = analytics_->Series("t1", now - 50 * kMinute, now + 1, kMinute, {"calls"});
  ASSERT_OK(series);
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ(series->begin()->first, FloorTo(now - 40 * kMinute, kMinute));
  EXPECT_EQ(series->rbegin()->second.all.calls, 2);
  // Minutes are kept for 48 hours: a series by the minute further back is refused.
  auto old = analytics_->Series("t1", now - 72 * 3'600'000LL, now, kMinute, {"calls"});
  EXPECT_EQ(old.status().code(), StatusCode::kUnprocessable);
  // Over the long run, the hours and days hold everything (minutes pruned).
  clock_.AdvanceMillis(50 * 3'600'000LL);
  analytics_->Call("t1", "k1", "GET /x", 200, 1.0);
  ASSERT_OK(analytics_->Flush());
  auto minutes = store_->Counters("t1", store::AnalyticsStore::Grain::kMinute, 0, INT64_MAX, {"calls"});
  ASSERT_OK(minutes);
  EXPECT_EQ(minutes->size(), 1u);
  EXPECT_EQ(Figures().total.calls, 4);
}

TEST_F(AnalyticsTest, AClickNamingItsAnswerOrWithinTheWindowIsAttributed) {
  const std::string rec = Answer("t1", "u1", {"A", "B"}, "v1");
  clock_.AdvanceMillis(kMinute);
  Track("t1", "anyone", "A", "view", rec);  // named: the user does not matter
  Track("t1", "u1", "B", "view");           // the user's answer showed B 1 minute ago
  Track("t1", "u1", "C", "view");           // never shown
  Track("t1", "u2", "A", "view");           // shown to somebody else
  Track("t1", "u1", "A", "view", "rec_unknown");  // an unknown id: the window decides (shown to u1)
  Report r = Figures();
  EXPECT_EQ(r.total.clicks, 3);
  EXPECT_EQ(r.by_model_version["v1"].clicks, 3);
  clock_.AdvanceMillis(31 * kMinute);  // past the click window
  Track("t1", "u1", "B", "view");
  Track("t1", "u1", "B", "click", rec);  // named, but too late too
  EXPECT_EQ(Figures().total.clicks, 3);
}

TEST_F(AnalyticsTest, CartsAndPurchasesAfterAClickAreAttributedWithTheirRevenue) {
  const std::string rec = Answer("t1", "u1", {"A", "B", "C"}, "v2");
  Track("t1", "u1", "A", "view", rec);
  Track("t1", "u1", "A", "add_to_cart");
  clock_.AdvanceMillis(60 * kMinute);
  Track("t1", "u1", "A", "purchase", "", 20.0, 2.0);  // price × quantity
  Track("t1", "u1", "B", "purchase", "", 5.0);         // B was shown but not clicked
  Report r = Figures();  // the click is stored by now: later purchases find it there
  clock_.AdvanceMillis(60 * kMinute);
  Track("t1", "u1", "A", "purchase", "", std::nullopt, std::nullopt, 7.5);  // the catalog's price
  Track("t1", "u2", "A", "purchase", "", 100.0);                            // another user
  r = Figures();
  EXPECT_EQ(r.total.clicks, 1);
  EXPECT_EQ(r.total.carts, 1);
  EXPECT_EQ(r.total.orders, 2);
  EXPECT_DOUBLE_EQ(r.total.revenue, 47.5);
  EXPECT_EQ(r.by_model_version["v2"].orders, 2);
  EXPECT_DOUBLE_EQ(r.total.conversion_rate(), 2.0);
  auto top = analytics_->TopItems("t1", 0, INT64_MAX, 1);
  ASSERT_OK(top);
  EXPECT_EQ((*top)[0].first, "A");
  EXPECT_EQ((*top)[0].second.purchases, 2);
  EXPECT_DOUBLE_EQ((*top)[0].second.revenue, 47.5);
  clock_.AdvanceMillis(25 * 60 * kMinute);  // past the conversion window
  Track("t1", "u1", "A", "purchase", "", 1.0);
  EXPECT_EQ(Figures().total.orders, 2);
}

// A thread that stays alive and runs what it is given, one call at a time:
// requests' threads, each with an id (and so an analytics shard) of its own.
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    Run(nullptr);
    thread_.join();
  }
  // Runs `fn` on this worker and waits for it (nullptr: the worker ends).
  void Run(std::function<void()> fn) {
    std::promise<void> ran;
    {
      std::lock_guard lock(mu_);
      task_ = [&, fn = std::move(fn)] {
        if (fn) fn();
        ran.set_value();
        return static_cast<bool>(fn);
      };
    }
    cv_.notify_one();
    ran.get_future().wait();
  }

 private:
  void Loop() {
    while (true) {
      std::function<bool()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return static_cast<bool>(task_); });
        task.swap(task_);
      }
      if (!task()) return;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<bool()> task_;
  std::thread thread_;
};

// Requests run on many threads, each counting into its own shard: a purchase
// tracked after its click (the click answered first) is attributed even in the
// same millisecond, from another thread, whatever shard either lands in.
TEST_F(AnalyticsTest, APurchaseAfterItsClickOnAnotherThreadInTheSameMillisecondIsAttributed) {
  std::vector<Worker> workers(8);
  const int users = static_cast<int>(workers.size() * workers.size());
  for (int u = 0; u < users; ++u) {  // every ordered pair of threads
    const std::string user = "u" + std::to_string(u);
    const std::string rec = Answer("t1", user, {"A"});
    workers[u % workers.size()].Run([&] { Track("t1", user, "A", "view", rec); });
    workers[u / workers.size()].Run([&] { Track("t1", user, "A", "purchase", "", 1.0); });
  }
  const Report r = Figures();
  EXPECT_EQ(r.total.clicks, users);
  EXPECT_EQ(r.total.orders, users);
}

// A click tracked while a flush drains the shards, and its purchase after it:
// the purchase never reaches attribution before the click does.
TEST_F(AnalyticsTest, APurchaseIsNeverAttributedBeforeAClickTrackedBeforeIt) {
  constexpr int kUsers = 200;
  std::atomic<bool> done{false};
  std::thread flusher([&] {
    while (!done.load()) EXPECT_OK(analytics_->Flush());
  });
  std::vector<Worker> workers(4);
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "u" + std::to_string(u);
    const std::string rec = Answer("t1", user, {"A"});
    workers[u % workers.size()].Run([&] { Track("t1", user, "A", "view", rec); });
    workers[(u + 1) % workers.size()].Run([&] { Track("t1", user, "A", "purchase", "", 1.0); });
  }
  done = true;
  flusher.join();
  const Report r = Figures();
  EXPECT_EQ(analytics_->failed_batches(), 0u);
  EXPECT_EQ(analytics_->dropped_events(), 0u);
  EXPECT_EQ(r.total.clicks, kUsers);
  EXPECT_EQ(r.total.orders, kUsers);
}

TEST_F(AnalyticsTest, ClicksAndWhatTheyLeadToAreSplitByTheirContextSource) {
  const std::string rec = Answer("t1", "u1", {"A", "B"});
  TrackedEvent e;
  e.user_id = "u1";
  e.item_id = "A";
  e.type = "view";
  e.recommendation_id = rec;
  e.ts_ms = clock_.NowMillis();
  e.context_json = R"({"source":"homepage_recommendations","device":"mobile"})";
  analytics_->Tracked("t1", e);
  e.item_id = "B";
  e.context_json = "";  // no source: in the totals only
  analytics_->Tracked("t1", e);
  Report r = Figures();  // the click is stored: the purchase below finds its source there
  clock_.AdvanceMillis(kMinute);
  Track("t1", "u1", "A", "purchase", "", 30.0);
  r = Figures();
  EXPECT_EQ(r.total.clicks, 2);
  ASSERT_EQ(r.by_source.size(), 1u);
  const auto& home = r.by_source["homepage_recommendations"];
  EXPECT_EQ(home.clicks, 1);
  EXPECT_EQ(home.orders, 1);
  EXPECT_DOUBLE_EQ(home.revenue, 30.0);
  EXPECT_DOUBLE_EQ(r.total.revenue, 30.0);  // counted once in the totals
  EXPECT_EQ(ContextOf("", R"({"source":5})").source, "");
  EXPECT_EQ(ContextOf("", "[1]").source, "");
}

TEST_F(AnalyticsTest, APurchaseNamingTheAnswerThatShowedItIsAttributed) {
  const std::string rec = Answer("t1", "u1", {"A"});
  clock_.AdvanceMillis(2 * 60 * kMinute);
  Track("t1", "u1", "A", "purchase", rec, 10.0);
  Track("t1", "u1", "Z", "purchase", rec, 10.0);  // not shown by it
  Report r = Figures();
  EXPECT_EQ(r.total.orders, 1);
  EXPECT_DOUBLE_EQ(r.total.revenue, 10.0);
}

TEST_F(AnalyticsTest, AnExplicitImpressionCountsOnceWhetherOrNotItWasLogged) {
  const std::string rec = Answer("t1", "u1", {"A"});
  Track("t1", "u1", "", "recommendations_shown", rec);  // already counted when served
  Track("t1", "u1", "", "recommendations_shown");        // the widget's own
  Report r = Figures();
  EXPECT_EQ(r.total.served, 1);
  EXPECT_EQ(r.total.impressions(), 2);
  EXPECT_EQ(r.total.events_tracked, 2);
}

TEST_F(AnalyticsTest, AForgottenTenantsQueuedFiguresAreDropped) {
  Answer("t2", "u1", {"A"});
  analytics_->Forget("t2");
  analytics_->Call("t2", "", "GET /x", 200, 1);
  EXPECT_EQ(Figures("t2").total.served, 0);
}

// The SQLite store, with the tenants whose handles it was asked to close.
class ClosingStore final : public store::AnalyticsStore {
 public:
  explicit ClosingStore(store::AnalyticsStore* inner) : inner_(inner) {}
  Status Add(const std::string& t, const store::AnalyticsBatch& b) override { return inner_->Add(t, b); }
  StatusOr<std::vector<store::CounterRow>> Counters(const std::string& t, Grain g, int64_t from, int64_t to,
                                                    const std::vector<std::string>& prefixes) override {
    return inner_->Counters(t, g, from, to, prefixes);
  }
  StatusOr<std::vector<std::pair<std::string, store::ItemCounts>>> TopItems(const std::string& t, int64_t from,
                                                                           int64_t to, int limit) override {
    return inner_->TopItems(t, from, to, limit);
  }
  StatusOr<std::optional<ItemWindow>> KeptItemWindow(const std::string& t, int64_t days) override {
    return inner_->KeptItemWindow(t, days);
  }
  Status KeepItemWindow(const std::string& t, const ItemWindow& w) override { return inner_->KeepItemWindow(t, w); }
  StatusOr<std::optional<store::AttributedClick>> LastClick(const std::string& t, const std::string& user,
                                                            const std::string& item, int64_t from,
                                                            int64_t to) override {
    return inner_->LastClick(t, user, item, from, to);
  }
  StatusOr<std::map<std::string, store::ArmSums>> ExperimentArms(const std::string& t,
                                                                 const std::string& experiment) override {
    return inner_->ExperimentArms(t, experiment);
  }
  Status PruneClicks(const std::string& t, int64_t before) override { return inner_->PruneClicks(t, before); }
  Status PruneMinutes(const std::string& t, int64_t before) override { return inner_->PruneMinutes(t, before); }
  void CloseTenant(const std::string& t) override {
    closed_.push_back(t);
    inner_->CloseTenant(t);
  }
  std::vector<std::string> closed_;

 private:
  store::AnalyticsStore* inner_;
};

TEST_F(AnalyticsTest, ATenantClosedWithFiguresPendingIsClosedOnceTheyAreWritten) {
  ClosingStore closing(store_.get());
  AnalyticsOptions o;
  o.flush_interval_ms = 3'600'000;
  analytics_ = std::make_unique<Analytics>(&closing, log_.get(), &clock_, o);
  Answer("t1", "u1", {"A"});  // served in the second before its eviction
  analytics_->Close("t1");
  EXPECT_EQ(Figures().total.served, 1);  // written by the flush ...
  EXPECT_EQ(closing.closed_, std::vector<std::string>{"t1"});  // ... and then closed
  analytics_.reset();
}

TEST_F(AnalyticsTest, WhatWasCountedSurvivesARestart) {
  Answer("t1", "u1", {"A"});
  analytics_.reset();  // a graceful stop flushes
  analytics_ = std::make_unique<Analytics>(store_.get(), log_.get(), &clock_);
  EXPECT_EQ(Figures().total.served, 1);
}

TEST_F(AnalyticsTest, TopItemsAddTodayToThePastDaysKeptFromTheLastCall) {
  const int64_t start = clock_.NowMillis();
  Answer("t1", "u1", {"A", "B"});
  clock_.AdvanceMillis(86'400'000);
  Answer("t1", "u1", {"B", "C"});
  ASSERT_OK(analytics_->Flush());
  auto top = analytics_->TopItems("t1", start - 3'600'000, clock_.NowMillis() + 1, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 3u);
  EXPECT_EQ((*top)[0].first, "B");
  EXPECT_EQ((*top)[0].second.impressions, 2);
  // Today moves on; the past days are the same: the answer is still whole.
  Answer("t1", "u1", {"C", "C2"});
  Answer("t1", "u1", {"C"});
  ASSERT_OK(analytics_->Flush());
  top = analytics_->TopItems("t1", start - 3'600'000, clock_.NowMillis() + 1, 2);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].first, "C");
  EXPECT_EQ((*top)[0].second.impressions, 3);
  EXPECT_EQ((*top)[1].first, "B");
  // A range of today only, then of the past only.
  top = analytics_->TopItems("t1", clock_.NowMillis() - 1000, clock_.NowMillis() + 1, 10);
  ASSERT_OK(top);
  EXPECT_EQ(top->size(), 3u);  // B, C, C2
  top = analytics_->TopItems("t1", start, start + 1000, 10);
  ASSERT_OK(top);
  EXPECT_EQ(top->size(), 2u);  // A, B
}

// A shop's dashboard over the last days, opened once a day and after a
// restart: the past days' item sums come from the run kept in the store,
// slid forward a day at a time, and always equal a whole sum of the days.
TEST_F(AnalyticsTest, TopItemsOverTheLastDaysStayExactAcrossRestartsAndDays) {
  constexpr int64_t kDay = 86'400'000;
  constexpr int kDays = 5;
  auto show_day = [&](int d) {
    Answer("t1", "u1", {"I" + std::to_string(d % 3), "J" + std::to_string(d)});
    for (int i = 0; i <= d % 4; ++i) Answer("t1", "u2", {"K" + std::to_string(i)});
    Track("t1", "u1", "J" + std::to_string(d), "view");  // no answer named: clicked within the window
    ASSERT_OK(analytics_->Flush());
  };
  auto whole = [&](int64_t from) {  // every item-day summed, today included
    auto r = store_->TopItems("t1", from, INT64_MAX, 1000);
    EXPECT_OK(r);
    return r.ok() ? *r : std::vector<std::pair<std::string, store::ItemCounts>>{};
  };
  auto expect_same = [&](const std::vector<std::pair<std::string, store::ItemCounts>>& got,
                         const std::vector<std::pair<std::string, store::ItemCounts>>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].first, want[i].first) << i;
      EXPECT_NEAR(got[i].second.impressions, want[i].second.impressions, 1e-9) << got[i].first;
      EXPECT_NEAR(got[i].second.clicks, want[i].second.clicks, 1e-9) << got[i].first;
    }
  };
  for (int d = 0; d < 12; ++d) {
    show_day(d);
    const int64_t now = clock_.NowMillis();
    const int64_t from = now - kDays * kDay;
    auto top = analytics_->TopItems("t1", from, now + 1, 1000);
    ASSERT_OK(top);
    expect_same(*top, whole(from / kDay * kDay));
    if (d == 7) {  // a restart: nothing in memory
      analytics_.reset();
      AnalyticsOptions o;
      o.flush_interval_ms = 3'600'000;
      analytics_ = std::make_unique<Analytics>(store_.get(), log_.get(), &clock_, o);
      top = analytics_->TopItems("t1", from, now + 1, 1000);
      ASSERT_OK(top);
      expect_same(*top, whole(from / kDay * kDay));
    }
    clock_.AdvanceMillis(kDay);
  }
  // What is kept (written by the flush after the call) is the run the last call used.
  ASSERT_OK(analytics_->Flush());
  auto kept = store_->KeptItemWindow("t1", kDays);
  ASSERT_OK(kept);
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->to_day_ms, (clock_.NowMillis() - kDay) / kDay * kDay);
}

TEST_F(AnalyticsTest, ASummaryOverDaysAddsHoursAtItsEndsToWholeDays) {
  const int64_t start = clock_.NowMillis();
  for (int h = 0; h < 60; ++h) {  // an answer every hour for 2.5 days
    Answer("t1", "u1", {"A"});
    clock_.AdvanceMillis(3'600'000);
  }
  ASSERT_OK(analytics_->Flush());
  for (int64_t from : {start, start + 7 * 3'600'000, start + 30 * 3'600'000}) {
    for (int64_t to : {start + 59 * 3'600'000 + 1, start + 40 * 3'600'000}) {
      auto r = analytics_->Summarize("t1", from, to);
      ASSERT_OK(r);
      // Every hour that starts before `to` and ends after `from`.
      const double hours = static_cast<double>((to - 1) / 3'600'000 - from / 3'600'000 + 1);
      EXPECT_EQ(r->total.served, hours) << from << " " << to;
    }
  }
}

TEST_F(AnalyticsTest, AClickAfterARestartFindsTheAnswerFromBeforeIt) {
  Answer("t1", "u1", {"A"});
  ASSERT_OK(log_->Flush());
  analytics_.reset();
  AnalyticsOptions o;
  o.flush_interval_ms = 3'600'000;
  analytics_ = std::make_unique<Analytics>(store_.get(), log_.get(), &clock_, o);
  Answer("t1", "u2", {"B"});  // this process's first answer: the record starts with the log's last day
  clock_.AdvanceMillis(kMinute);
  Track("t1", "u1", "A", "view");
  Track("t1", "u3", "A", "view");  // never answered
  EXPECT_EQ(Figures().total.clicks, 1);
}

// The log seen through this: what is asked of UsersSince, and when.
class WatchedLog final : public store::RecommendationLog {
 public:
  WatchedLog(store::RecommendationLog* log, const Clock* clock) : log_(log), clock_(clock) {}
  void Append(store::RecommendationRecord r) override { log_->Append(std::move(r)); }
  Status Flush() override { return log_->Flush(); }
  StatusOr<std::optional<store::RecommendationRecord>> Find(const std::string& t, const std::string& id) override {
    return log_->Find(t, id);
  }
  StatusOr<std::vector<store::RecommendationRecord>> Read(const std::string& t, const Range& r) override {
    return log_->Read(t, r);
  }
  StatusOr<std::vector<store::RecommendationRecord>> ReadUser(const std::string& t, const std::string& u,
                                                              int64_t from, int64_t to, int limit) override {
    return log_->ReadUser(t, u, from, to, limit);
  }
  StatusOr<std::vector<std::string>> UsersSince(const std::string& t, int64_t from_ms, size_t limit) override {
    asked.push_back({from_ms, clock_->NowMillis()});
    return log_->UsersSince(t, from_ms, limit);
  }
  Status DropTenant(const std::string& t) override { return log_->DropTenant(t); }
  void CloseTenant(const std::string& t) override { log_->CloseTenant(t); }
  uint64_t dropped() const override { return log_->dropped(); }
  int64_t resident_bytes() const override { return log_->resident_bytes(); }
  void SetResidentReport(ResidentReport report) override { log_->SetResidentReport(std::move(report)); }
  std::vector<std::pair<int64_t, int64_t>> asked;  // (from_ms, the clock when asked)

 private:
  store::RecommendationLog* log_;
  const Clock* clock_;
};

// A new process's first look at a tenant's recent users asks the log for
// no more than a day back from when it asks: what the SQLite log's index of
// recent answers covers when that call fills it (asking from earlier made it
// scan its table's day instead), and the click is still attributed.
TEST_F(AnalyticsTest, TheFirstLookAtRecentUsersAsksWithinWhatTheLogsIndexCovers) {
  Answer("t1", "u1", {"A"});
  ASSERT_OK(log_->Flush());
  log_->CloseTenant("t1");  // the index goes with the tenant's handles: filled again on use
  WatchedLog watched(log_.get(), &clock_);
  AnalyticsOptions o;
  o.flush_interval_ms = 3'600'000;
  analytics_ = std::make_unique<Analytics>(store_.get(), &watched, &clock_, o);
  clock_.AdvanceMillis(kMinute);
  analytics_->Served("t1", "k1", "recommendations", "v1", {"B"}, false, "u2");
  ASSERT_OK(analytics_->Flush());
  ASSERT_EQ(watched.asked.size(), 1u);
  const auto [from_ms, at_ms] = watched.asked[0];
  EXPECT_GT(from_ms, at_ms - 86'400'000);  // inside the day an index filled now covers
  EXPECT_LE(from_ms, at_ms - 86'400'000 + 60'000);
  Track("t1", "u1", "A", "view");  // u1 was answered before the start: found
  EXPECT_EQ(Figures().total.clicks, 1);
}

// Scale-out: node B attributes a click to the answer node A gave, both
// logging to one shared log (two log handles over the same store here).
TEST_F(AnalyticsTest, WithASharedLogAClickIsAttributedToAnotherNodesAnswer) {
  for (bool shared : {false, true}) {
    SCOPED_TRACE(shared ? "shared log" : "log of its own");
    // The log both nodes share (PostgreSQL in scale-out; here A's own: the
    // SQLite log finds a user's answers through its process's memory).
    store::RecommendationLog* log_b = log_.get();
    AnalyticsOptions o;
    o.flush_interval_ms = 3'600'000;
    o.shared_log = shared;
    auto store_b = store::NewSqliteAnalyticsStore(dir_.path());
    Analytics node_b(store_b.get(), log_b, &clock_, o);
    const std::string user = shared ? "shared-u" : "own-u";
    // B has answered somebody (its record of recent users is seeded), then A answers the user.
    node_b.Served("t1", "k1", "recommendations", "v1", {"Z"}, false, "other");
    ASSERT_OK(node_b.Flush());
    const double before = Figures().total.clicks;
    Answer("t1", user, {"A"});
    ASSERT_OK(log_->Flush());
    clock_.AdvanceMillis(kMinute);
    TrackedEvent view;
    view.user_id = user;
    view.item_id = "A";
    view.type = "view";
    view.ts_ms = clock_.NowMillis();
    node_b.Tracked("t1", view);
    ASSERT_OK(node_b.Flush());
    EXPECT_EQ(Figures().total.clicks - before, shared ? 1 : 0);
  }
}

TEST_F(AnalyticsTest, ALongClickWindowReachesAnswersAcrossTheRecordsDays) {
  Answer("t1", "u0", {"Z"});
  ASSERT_OK(analytics_->Flush());  // the record of answered users starts now
  clock_.AdvanceMillis(23 * 60 * kMinute);
  Answer("t1", "u1", {"A"});
  for (int h = 0; h < 2; ++h) {  // flushed every hour: the record turns a day old meanwhile
    clock_.AdvanceMillis(60 * kMinute);
    ASSERT_OK(analytics_->Flush());
  }
  TrackedEvent e;
  e.user_id = "u1";
  e.item_id = "A";
  e.type = "view";
  e.ts_ms = clock_.NowMillis();
  e.windows.click_ms = 24 * 60 * kMinute;  // the answer is 2 hours old
  analytics_->Tracked("t1", e);
  e.user_id = "u0";  // 25 hours old: outside
  e.item_id = "Z";
  analytics_->Tracked("t1", e);
  EXPECT_EQ(Figures().total.clicks, 1);
}

TEST_F(AnalyticsTest, EventsBeyondTheQueueAreDroppedAndCounted) {
  analytics_.reset();
  AnalyticsOptions o;
  o.flush_interval_ms = 3'600'000;
  o.max_queued_events = 32;  // 2 per shard
  analytics_ = std::make_unique<Analytics>(store_.get(), log_.get(), &clock_, o);
  const std::string rec = Answer("t1", "u1", {"A"});
  for (int i = 0; i < 5; ++i) Track("t1", "u1", "A", "view", rec);
  EXPECT_EQ(analytics_->dropped_events(), 3u);
  Report r = Figures();
  EXPECT_EQ(r.total.clicks, 2);
  EXPECT_EQ(r.total.events_tracked, 5);  // counted even when not attributed
}

TEST(AttributionTest, TheRecommendationIdMayComeInTheContext) {
  EXPECT_EQ(ContextOf("rec_a", R"({"recommendation_id":"rec_b"})").recommendation_id, "rec_a");
  EXPECT_EQ(ContextOf("", R"({"recommendation_id":"rec_b","source":"home"})").recommendation_id, "rec_b");
  EXPECT_EQ(ContextOf("", R"({"recommendation_id":5})").recommendation_id, "");
  EXPECT_EQ(ContextOf("", "not json").recommendation_id, "");
  EXPECT_EQ(RoleOf("view"), Role::kClick);
  EXPECT_EQ(RoleOf("like"), Role::kNone);
}

}  // namespace
}  // namespace embedrec::analytics
