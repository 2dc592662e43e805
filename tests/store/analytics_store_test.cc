// The analytics store's contract (store/analytics_store.h), one suite every
// backend must pass: add a backend to kBackends.
#include <thread>

#include "common/random.h"
#include "store/analytics_store.h"
#include "store/tenant_spaces.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

struct Backend {
  const char* name;
  std::function<std::unique_ptr<AnalyticsStore>(const std::string& root)> open;
  std::function<void(const std::string& root, const std::string& tenant)> create_tenant;
  std::function<void(const std::string& tenant)> drop_tenant = [](const std::string&) {};
  // False when the backend's server is not running (a suite run by hand).
  std::function<bool()> available = [] { return true; };
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"sqlite", [](const std::string& root) { return NewSqliteAnalyticsStore(root); },
     testing::MakeDirectorySpace},
    {"postgres",
     [](const std::string&) {
       auto store = NewPostgresAnalyticsStore(*testing::TestDatabaseUrl());
       EXPECT_TRUE(store.ok()) << store.status().ToString();
       return store.ok() ? std::move(store).value() : nullptr;
     },
     testing::MakeSchemaSpace, testing::DropSchemaSpace, [] { return testing::PgSpaces() != nullptr; }},
};

constexpr int64_t kHour = 3'600'000, kDay = 86'400'000;

class AnalyticsStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not running (see tests/local_services.h)";
    GetParam().create_tenant(dir_.path(), t1_);
    GetParam().create_tenant(dir_.path(), t2_);
    store_ = GetParam().open(dir_.path());
  }
  double Sum(const std::string& tenant, const std::string& metric, int64_t from = 0, int64_t to = INT64_MAX) {
    auto rows = store_->Counters(tenant, AnalyticsStore::Grain::kHour, from, to, {metric});
    EXPECT_OK(rows);
    double s = 0;
    for (const auto& r : *rows) {
      if (r.key.metric == metric) s += r.value;
    }
    return s;
  }
  void TearDown() override {
    store_.reset();
    GetParam().drop_tenant(t1_);
    GetParam().drop_tenant(t2_);
  }
  testing::TempDir dir_;
  const std::string t1_ = NewUuid(), t2_ = NewUuid();
  std::unique_ptr<AnalyticsStore> store_;
};

TEST_P(AnalyticsStoreTest, AddsCountersIntoWhatIsStored) {
  AnalyticsBatch a;
  a.counters[{10 * kHour, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{10 * kHour, "revenue", "recommendations", "v1", ""}] = 12.5;
  ASSERT_OK(store_->Add(t1_, a));
  ASSERT_OK(store_->Add(t1_, a));
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls"), 6);
  EXPECT_DOUBLE_EQ(Sum(t1_, "revenue"), 25);
  // The range is by hour, end exclusive; the prefix narrows metrics.
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls", 10 * kHour, 10 * kHour + 1), 6);
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls", 11 * kHour, 12 * kHour), 0);
  auto rows = store_->Counters(t1_, AnalyticsStore::Grain::kHour, 0, INT64_MAX, {"rev"});
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].key.model_version, "v1");
  EXPECT_EQ((*rows)[0].key.endpoint, "recommendations");
  rows = store_->Counters(t1_, AnalyticsStore::Grain::kHour, 0, INT64_MAX, {"rev", "calls"});
  ASSERT_OK(rows);
  EXPECT_EQ(rows->size(), 2u);
}

TEST_P(AnalyticsStoreTest, DaysRollUpTheHours) {
  AnalyticsBatch a;
  a.counters[{kDay + 1 * kHour, "calls", "GET /x", "", "k1"}] = 2;
  a.counters[{kDay + 5 * kHour, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{2 * kDay, "calls", "GET /x", "", "k1"}] = 7;
  a.gauges[{kDay + 2 * kHour, "storage_bytes", "", "", ""}] = 100;
  ASSERT_OK(store_->Add(t1_, a));
  AnalyticsBatch later;
  later.counters[{kDay + 23 * kHour, "calls", "GET /x", "", "k1"}] = 1;
  later.gauges[{kDay + 9 * kHour, "storage_bytes", "", "", ""}] = 80;
  ASSERT_OK(store_->Add(t1_, later));
  auto days = store_->Counters(t1_, AnalyticsStore::Grain::kDay, kDay, 2 * kDay, {});
  ASSERT_OK(days);
  ASSERT_EQ(days->size(), 2u);
  for (const auto& row : *days) {
    EXPECT_EQ(row.key.start_ms, kDay);
    EXPECT_DOUBLE_EQ(row.value, row.key.metric == "calls" ? 6 : 80);
  }
  days = store_->Counters(t1_, AnalyticsStore::Grain::kDay, kDay, 3 * kDay, {"calls"});
  ASSERT_OK(days);
  EXPECT_EQ(days->size(), 2u);
}

TEST_P(AnalyticsStoreTest, MinutesRollUpIntoHoursAndArePrunedAlone) {
  constexpr int64_t kMinute = 60'000;
  AnalyticsBatch a;
  a.counters[{kDay + 7 * kMinute, "calls", "GET /x", "", "k1"}] = 2;
  a.counters[{kDay + 52 * kMinute, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{kDay + kHour + 1 * kMinute, "calls", "GET /x", "", "k1"}] = 4;
  ASSERT_OK(store_->Add(t1_, a));
  auto minutes = store_->Counters(t1_, AnalyticsStore::Grain::kMinute, kDay, kDay + kHour, {"calls"});
  ASSERT_OK(minutes);
  ASSERT_EQ(minutes->size(), 2u);
  EXPECT_EQ((*minutes)[0].key.start_ms, kDay + 7 * kMinute);
  EXPECT_DOUBLE_EQ((*minutes)[1].value, 3);
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls", kDay, kDay + kHour), 5);  // the hour
  auto days = store_->Counters(t1_, AnalyticsStore::Grain::kDay, kDay, 2 * kDay, {"calls"});
  ASSERT_OK(days);
  ASSERT_EQ(days->size(), 1u);
  EXPECT_DOUBLE_EQ((*days)[0].value, 9);
  ASSERT_OK(store_->PruneMinutes(t1_, kDay + kHour));
  minutes = store_->Counters(t1_, AnalyticsStore::Grain::kMinute, 0, 3 * kDay, {});
  ASSERT_OK(minutes);
  ASSERT_EQ(minutes->size(), 1u);  // the minute after the hour
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls"), 9);  // hours stay
}

TEST_P(AnalyticsStoreTest, GaugesKeepTheLatestValue) {
  AnalyticsBatch a;
  a.gauges[{0, "storage_bytes", "", "", ""}] = 100;
  ASSERT_OK(store_->Add(t1_, a));
  a.gauges[{0, "storage_bytes", "", "", ""}] = 70;
  ASSERT_OK(store_->Add(t1_, a));
  EXPECT_DOUBLE_EQ(Sum(t1_, "storage_bytes"), 70);
}

TEST_P(AnalyticsStoreTest, TopItemsSumDaysInTheRangeMostShownFirst) {
  AnalyticsBatch a;
  a.items[{0, "A"}] = {5, 1, 0, 0, 0};
  a.items[{kDay, "A"}] = {5, 2, 1, 1, 20};
  a.items[{kDay, "B"}] = {8, 0, 0, 0, 0};
  a.items[{kDay, "C"}] = {8, 0, 0, 0, 0};
  a.items[{2 * kDay, "D"}] = {100, 0, 0, 0, 0};
  ASSERT_OK(store_->Add(t1_, a));
  auto top = store_->TopItems(t1_, 0, 2 * kDay, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 3u);
  EXPECT_EQ((*top)[0].first, "A");
  EXPECT_DOUBLE_EQ((*top)[0].second.impressions, 10);
  EXPECT_DOUBLE_EQ((*top)[0].second.clicks, 3);
  EXPECT_DOUBLE_EQ((*top)[0].second.revenue, 20);
  EXPECT_EQ((*top)[1].first, "B");  // ties by id
  EXPECT_EQ((*top)[2].first, "C");
  top = store_->TopItems(t1_, kDay, 2 * kDay, 1);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 1u);
  EXPECT_DOUBLE_EQ((*top)[0].second.impressions, 8);
}

TEST_P(AnalyticsStoreTest, ItemWindowsAreKeptOnePerLengthTheLastFewPut) {
  auto none = store_->KeptItemWindow(t1_, 30);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  AnalyticsStore::ItemWindow w{10 * kDay, 40 * kDay, {{"A", {5, 1, 0, 1, 9.5}}, {"B", {2, 0, 0, 0, 0}}}};
  ASSERT_OK(store_->KeepItemWindow(t1_, w));
  AnalyticsStore::ItemWindow slid{11 * kDay, 41 * kDay, {{"A", {6, 1, 0, 1, 9.5}}}};
  ASSERT_OK(store_->KeepItemWindow(t1_, slid));  // replaces the 30-day run
  auto kept = store_->KeptItemWindow(t1_, 30);
  ASSERT_OK(kept);
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->from_day_ms, 11 * kDay);
  EXPECT_EQ((*kept)->to_day_ms, 41 * kDay);
  ASSERT_EQ((*kept)->items.size(), 1u);
  EXPECT_EQ((*kept)->items[0].first, "A");
  EXPECT_DOUBLE_EQ((*kept)->items[0].second.impressions, 6);
  EXPECT_DOUBLE_EQ((*kept)->items[0].second.revenue, 9.5);
  EXPECT_FALSE(store_->KeptItemWindow(t2_, 30)->has_value());  // tenants apart
  // Other lengths: the oldest put goes once more than kItemWindowsKept are kept.
  for (int64_t days = 1; days <= AnalyticsStore::kItemWindowsKept; ++days) {
    ASSERT_OK(store_->KeepItemWindow(t1_, {40 * kDay - days * kDay, 40 * kDay, {{"C", {1, 0, 0, 0, 0}}}}));
  }
  EXPECT_FALSE(store_->KeptItemWindow(t1_, 30)->has_value());
  auto one = store_->KeptItemWindow(t1_, 1);
  ASSERT_OK(one);
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->items.size(), 1u);
  EXPECT_FALSE(store_->KeepItemWindow(t1_, {kDay, kDay, {}}).ok());  // no days
}

TEST_P(AnalyticsStoreTest, FindsTheNewestClickInTheWindowAndPrunesOldOnes) {
  AnalyticsBatch a;
  a.clicks.push_back({"u", "i", "rec_1", "recommendations", "v1", 1000});
  a.clicks.push_back({"u", "i", "rec_2", "similar", "v2", 2000, "product_page"});
  a.clicks.push_back({"u", "j", "rec_3", "recommendations", "v1", 2500});
  ASSERT_OK(store_->Add(t1_, a));
  auto c = store_->LastClick(t1_, "u", "i", 0, 3000);
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->recommendation_id, "rec_2");
  EXPECT_EQ((*c)->endpoint, "similar");
  EXPECT_EQ((*c)->model_version, "v2");
  EXPECT_EQ((*c)->source, "product_page");
  c = store_->LastClick(t1_, "u", "i", 0, 1500);
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->recommendation_id, "rec_1");
  c = store_->LastClick(t1_, "u", "i", 2001, 3000);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
  ASSERT_OK(store_->PruneClicks(t1_, 1500));
  c = store_->LastClick(t1_, "u", "i", 0, 1500);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
}

TEST_P(AnalyticsStoreTest, TenantsAreApartAndATenantWithoutASpaceGetsNothing) {
  AnalyticsBatch a;
  a.counters[{0, "calls", "", "", ""}] = 1;
  a.clicks.push_back({"u", "i", "rec_1", "recommendations", "v1", 1000});
  ASSERT_OK(store_->Add(t1_, a));
  EXPECT_DOUBLE_EQ(Sum(t2_, "calls"), 0);
  auto c = store_->LastClick(t2_, "u", "i", 0, 3000);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
  EXPECT_EQ(store_->Add("nobody", a).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Add("../" + t1_, a).code(), StatusCode::kNotFound);
  EXPECT_DOUBLE_EQ(Sum("nobody", "calls"), 0);
}

TEST_P(AnalyticsStoreTest, AClosedTenantKeepsItsRowsAndAnotherStoreReadsThem) {
  AnalyticsBatch a;
  a.counters[{0, "calls", "", "", ""}] = 4;
  ASSERT_OK(store_->Add(t1_, a));
  store_->CloseTenant(t1_);
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls"), 4);
  store_.reset();
  store_ = GetParam().open(dir_.path());  // a restart
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls"), 4);
}

// Nodes sharing the backend (scale-out) add to the same rows at once:
// every addition counts once.
TEST_P(AnalyticsStoreTest, StoresAddingToTheSameRowsAtOnceLoseNothing) {
  auto other = GetParam().open(dir_.path());
  constexpr int kBatches = 20;
  auto add = [&](AnalyticsStore* store) {
    for (int i = 0; i < kBatches; ++i) {
      AnalyticsBatch b;
      b.counters[{5 * kHour, "calls", "GET /x", "", ""}] = 1;
      b.counters[{5 * kHour + 60'000, "served", "recommendations", "v1", ""}] = 2;
      b.items[{0, "P1"}].impressions = 1;
      b.items[{0, "P2"}].clicks = 1;
      b.arm_users[{"exp", "control", "u1"}].orders = 1;
      EXPECT_OK(store->Add(t1_, b));
    }
  };
  std::thread t([&] { add(other.get()); });
  add(store_.get());
  t.join();
  EXPECT_DOUBLE_EQ(Sum(t1_, "calls"), 2 * kBatches);
  EXPECT_DOUBLE_EQ(Sum(t1_, "served"), 4 * kBatches);
  auto top = store_->TopItems(t1_, 0, kDay, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].first, "P1");
  EXPECT_DOUBLE_EQ((*top)[0].second.impressions, 2 * kBatches);
  EXPECT_DOUBLE_EQ((*top)[1].second.clicks, 2 * kBatches);
  auto arms = store_->ExperimentArms(t1_, "exp");
  ASSERT_OK(arms);
  EXPECT_DOUBLE_EQ((*arms)["control"].orders, 2 * kBatches);
  EXPECT_DOUBLE_EQ((*arms)["control"].users, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, AnalyticsStoreTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::store
