// The analytics store's contract (store/analytics_store.h), one suite every
// backend must pass: add a backend to kBackends.
#include <filesystem>

#include "store/analytics_store.h"
#include "test_util.h"

namespace embedrec::store {
namespace {

struct Backend {
  const char* name;
  std::function<std::unique_ptr<AnalyticsStore>(const std::string& root)> open;
  std::function<void(const std::string& root, const std::string& tenant)> create_tenant;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

const Backend kBackends[] = {
    {"sqlite", [](const std::string& root) { return NewSqliteAnalyticsStore(root); },
     [](const std::string& root, const std::string& tenant) {
       std::filesystem::create_directories(root + "/" + tenant);
     }},
};

constexpr int64_t kHour = 3'600'000, kDay = 86'400'000;

class AnalyticsStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    GetParam().create_tenant(dir_.path(), "t1");
    GetParam().create_tenant(dir_.path(), "t2");
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
  testing::TempDir dir_;
  std::unique_ptr<AnalyticsStore> store_;
};

TEST_P(AnalyticsStoreTest, AddsCountersIntoWhatIsStored) {
  AnalyticsBatch a;
  a.counters[{10 * kHour, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{10 * kHour, "revenue", "recommendations", "v1", ""}] = 12.5;
  ASSERT_OK(store_->Add("t1", a));
  ASSERT_OK(store_->Add("t1", a));
  EXPECT_DOUBLE_EQ(Sum("t1", "calls"), 6);
  EXPECT_DOUBLE_EQ(Sum("t1", "revenue"), 25);
  // The range is by hour, end exclusive; the prefix narrows metrics.
  EXPECT_DOUBLE_EQ(Sum("t1", "calls", 10 * kHour, 10 * kHour + 1), 6);
  EXPECT_DOUBLE_EQ(Sum("t1", "calls", 11 * kHour, 12 * kHour), 0);
  auto rows = store_->Counters("t1", AnalyticsStore::Grain::kHour, 0, INT64_MAX, {"rev"});
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].key.model_version, "v1");
  EXPECT_EQ((*rows)[0].key.endpoint, "recommendations");
  rows = store_->Counters("t1", AnalyticsStore::Grain::kHour, 0, INT64_MAX, {"rev", "calls"});
  ASSERT_OK(rows);
  EXPECT_EQ(rows->size(), 2u);
}

TEST_P(AnalyticsStoreTest, DaysRollUpTheHours) {
  AnalyticsBatch a;
  a.counters[{kDay + 1 * kHour, "calls", "GET /x", "", "k1"}] = 2;
  a.counters[{kDay + 5 * kHour, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{2 * kDay, "calls", "GET /x", "", "k1"}] = 7;
  a.gauges[{kDay + 2 * kHour, "storage_bytes", "", "", ""}] = 100;
  ASSERT_OK(store_->Add("t1", a));
  AnalyticsBatch later;
  later.counters[{kDay + 23 * kHour, "calls", "GET /x", "", "k1"}] = 1;
  later.gauges[{kDay + 9 * kHour, "storage_bytes", "", "", ""}] = 80;
  ASSERT_OK(store_->Add("t1", later));
  auto days = store_->Counters("t1", AnalyticsStore::Grain::kDay, kDay, 2 * kDay, {});
  ASSERT_OK(days);
  ASSERT_EQ(days->size(), 2u);
  for (const auto& row : *days) {
    EXPECT_EQ(row.key.start_ms, kDay);
    EXPECT_DOUBLE_EQ(row.value, row.key.metric == "calls" ? 6 : 80);
  }
  days = store_->Counters("t1", AnalyticsStore::Grain::kDay, kDay, 3 * kDay, {"calls"});
  ASSERT_OK(days);
  EXPECT_EQ(days->size(), 2u);
}

TEST_P(AnalyticsStoreTest, MinutesRollUpIntoHoursAndArePrunedAlone) {
  constexpr int64_t kMinute = 60'000;
  AnalyticsBatch a;
  a.counters[{kDay + 7 * kMinute, "calls", "GET /x", "", "k1"}] = 2;
  a.counters[{kDay + 52 * kMinute, "calls", "GET /x", "", "k1"}] = 3;
  a.counters[{kDay + kHour + 1 * kMinute, "calls", "GET /x", "", "k1"}] = 4;
  ASSERT_OK(store_->Add("t1", a));
  auto minutes = store_->Counters("t1", AnalyticsStore::Grain::kMinute, kDay, kDay + kHour, {"calls"});
  ASSERT_OK(minutes);
  ASSERT_EQ(minutes->size(), 2u);
  EXPECT_EQ((*minutes)[0].key.start_ms, kDay + 7 * kMinute);
  EXPECT_DOUBLE_EQ((*minutes)[1].value, 3);
  EXPECT_DOUBLE_EQ(Sum("t1", "calls", kDay, kDay + kHour), 5);  // the hour
  auto days = store_->Counters("t1", AnalyticsStore::Grain::kDay, kDay, 2 * kDay, {"calls"});
  ASSERT_OK(days);
  ASSERT_EQ(days->size(), 1u);
  EXPECT_DOUBLE_EQ((*days)[0].value, 9);
  ASSERT_OK(store_->PruneMinutes("t1", kDay + kHour));
  minutes = store_->Counters("t1", AnalyticsStore::Grain::kMinute, 0, 3 * kDay, {});
  ASSERT_OK(minutes);
  ASSERT_EQ(minutes->size(), 1u);  // the minute after the hour
  EXPECT_DOUBLE_EQ(Sum("t1", "calls"), 9);  // hours stay
}

TEST_P(AnalyticsStoreTest, GaugesKeepTheLatestValue) {
  AnalyticsBatch a;
  a.gauges[{0, "storage_bytes", "", "", ""}] = 100;
  ASSERT_OK(store_->Add("t1", a));
  a.gauges[{0, "storage_bytes", "", "", ""}] = 70;
  ASSERT_OK(store_->Add("t1", a));
  EXPECT_DOUBLE_EQ(Sum("t1", "storage_bytes"), 70);
}

TEST_P(AnalyticsStoreTest, TopItemsSumDaysInTheRangeMostShownFirst) {
  AnalyticsBatch a;
  a.items[{0, "A"}] = {5, 1, 0, 0, 0};
  a.items[{kDay, "A"}] = {5, 2, 1, 1, 20};
  a.items[{kDay, "B"}] = {8, 0, 0, 0, 0};
  a.items[{kDay, "C"}] = {8, 0, 0, 0, 0};
  a.items[{2 * kDay, "D"}] = {100, 0, 0, 0, 0};
  ASSERT_OK(store_->Add("t1", a));
  auto top = store_->TopItems("t1", 0, 2 * kDay, 10);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 3u);
  EXPECT_EQ((*top)[0].first, "A");
  EXPECT_DOUBLE_EQ((*top)[0].second.impressions, 10);
  EXPECT_DOUBLE_EQ((*top)[0].second.clicks, 3);
  EXPECT_DOUBLE_EQ((*top)[0].second.revenue, 20);
  EXPECT_EQ((*top)[1].first, "B");  // ties by id
  EXPECT_EQ((*top)[2].first, "C");
  top = store_->TopItems("t1", kDay, 2 * kDay, 1);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 1u);
  EXPECT_DOUBLE_EQ((*top)[0].second.impressions, 8);
}

TEST_P(AnalyticsStoreTest, ItemWindowsAreKeptOnePerLengthTheLastFewPut) {
  auto none = store_->KeptItemWindow("t1", 30);
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  AnalyticsStore::ItemWindow w{10 * kDay, 40 * kDay, {{"A", {5, 1, 0, 1, 9.5}}, {"B", {2, 0, 0, 0, 0}}}};
  ASSERT_OK(store_->KeepItemWindow("t1", w));
  AnalyticsStore::ItemWindow slid{11 * kDay, 41 * kDay, {{"A", {6, 1, 0, 1, 9.5}}}};
  ASSERT_OK(store_->KeepItemWindow("t1", slid));  // replaces the 30-day run
  auto kept = store_->KeptItemWindow("t1", 30);
  ASSERT_OK(kept);
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->from_day_ms, 11 * kDay);
  EXPECT_EQ((*kept)->to_day_ms, 41 * kDay);
  ASSERT_EQ((*kept)->items.size(), 1u);
  EXPECT_EQ((*kept)->items[0].first, "A");
  EXPECT_DOUBLE_EQ((*kept)->items[0].second.impressions, 6);
  EXPECT_DOUBLE_EQ((*kept)->items[0].second.revenue, 9.5);
  EXPECT_FALSE(store_->KeptItemWindow("t2", 30)->has_value());  // tenants apart
  // Other lengths: the oldest put goes once more than kItemWindowsKept are kept.
  for (int64_t days = 1; days <= AnalyticsStore::kItemWindowsKept; ++days) {
    ASSERT_OK(store_->KeepItemWindow("t1", {40 * kDay - days * kDay, 40 * kDay, {{"C", {1, 0, 0, 0, 0}}}}));
  }
  EXPECT_FALSE(store_->KeptItemWindow("t1", 30)->has_value());
  auto one = store_->KeptItemWindow("t1", 1);
  ASSERT_OK(one);
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->items.size(), 1u);
  EXPECT_FALSE(store_->KeepItemWindow("t1", {kDay, kDay, {}}).ok());  // no days
}

TEST_P(AnalyticsStoreTest, FindsTheNewestClickInTheWindowAndPrunesOldOnes) {
  AnalyticsBatch a;
  a.clicks.push_back({"u", "i", "rec_1", "recommendations", "v1", 1000});
  a.clicks.push_back({"u", "i", "rec_2", "similar", "v2", 2000, "product_page"});
  a.clicks.push_back({"u", "j", "rec_3", "recommendations", "v1", 2500});
  ASSERT_OK(store_->Add("t1", a));
  auto c = store_->LastClick("t1", "u", "i", 0, 3000);
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->recommendation_id, "rec_2");
  EXPECT_EQ((*c)->endpoint, "similar");
  EXPECT_EQ((*c)->model_version, "v2");
  EXPECT_EQ((*c)->source, "product_page");
  c = store_->LastClick("t1", "u", "i", 0, 1500);
  ASSERT_OK(c);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->recommendation_id, "rec_1");
  c = store_->LastClick("t1", "u", "i", 2001, 3000);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
  ASSERT_OK(store_->PruneClicks("t1", 1500));
  c = store_->LastClick("t1", "u", "i", 0, 1500);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
}

TEST_P(AnalyticsStoreTest, TenantsAreApartAndATenantWithoutASpaceGetsNothing) {
  AnalyticsBatch a;
  a.counters[{0, "calls", "", "", ""}] = 1;
  a.clicks.push_back({"u", "i", "rec_1", "recommendations", "v1", 1000});
  ASSERT_OK(store_->Add("t1", a));
  EXPECT_DOUBLE_EQ(Sum("t2", "calls"), 0);
  auto c = store_->LastClick("t2", "u", "i", 0, 3000);
  ASSERT_OK(c);
  EXPECT_FALSE(c->has_value());
  EXPECT_EQ(store_->Add("nobody", a).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Add("../t1", a).code(), StatusCode::kNotFound);
  EXPECT_DOUBLE_EQ(Sum("nobody", "calls"), 0);
}

TEST_P(AnalyticsStoreTest, AClosedTenantKeepsItsRowsAndAnotherStoreReadsThem) {
  AnalyticsBatch a;
  a.counters[{0, "calls", "", "", ""}] = 4;
  ASSERT_OK(store_->Add("t1", a));
  store_->CloseTenant("t1");
  EXPECT_DOUBLE_EQ(Sum("t1", "calls"), 4);
  store_.reset();
  store_ = GetParam().open(dir_.path());  // a restart
  EXPECT_DOUBLE_EQ(Sum("t1", "calls"), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, AnalyticsStoreTest, ::testing::ValuesIn(kBackends),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace embedrec::store
