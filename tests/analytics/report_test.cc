#include "analytics/report.h"

#include <gtest/gtest.h>

namespace embedrec::analytics {
namespace {

TEST(LatencyTest, BucketsCoverTheirBoundsAndQuantilesInterpolate) {
  for (double ms : {0.05, 0.1, 0.15, 1.0, 7.3, 250.0, 1e7}) {
    const int b = LatencyBucket(ms);
    if (b < kLatencyBuckets - 1) EXPECT_LE(ms, LatencyBound(b) * (1 + 1e-9)) << ms;
    if (b > 0 && b < kLatencyBuckets - 1) EXPECT_GT(ms, LatencyBound(b - 1)) << ms;
  }
  EXPECT_EQ(LatencyBucket(1e7), kLatencyBuckets - 1);  // the last holds everything above
  Latency l;
  EXPECT_EQ(l.Quantile(0.99), 0);
  // 90 fast calls (1 ms), 10 slow ones (100 ms).
  for (int i = 0; i < 90; ++i) l.buckets[LatencyBucket(1.0)] += 1;
  for (int i = 0; i < 10; ++i) l.buckets[LatencyBucket(100.0)] += 1;
  EXPECT_LE(l.Quantile(0.5), 1.0 + 1e-9);
  EXPECT_GT(l.Quantile(0.5), LatencyBound(LatencyBucket(1.0) - 1));
  EXPECT_GT(l.Quantile(0.95), LatencyBound(LatencyBucket(100.0) - 1));
  EXPECT_LE(l.Quantile(0.95), 100.0 + 1e-9);
}

TEST(ReportTest, SummarizesRowsByEndpointVersionKeyAndDay) {
  std::vector<store::CounterRow> rows = {
      {{0, "calls", "POST /api/v1/recommendations", "", "k1"}, 10},
      {{0, "latency_ms", "POST /api/v1/recommendations", "", "k1"}, 50},
      {{0, "errors", "POST /api/v1/recommendations", "", "k1"}, 1},
      {{0, "served", "recommendations", "v1", "k1"}, 8},
      {{0, "cache_hits", "recommendations", "v1", "k1"}, 2},
      {{0, "served", "similar", "v1", "k1"}, 2},
      {{kDayMs + kHourMs, "served", "recommendations", "v2", ""}, 10},
      {{kDayMs, "shown_events", "widget", "", ""}, 5},
      {{kDayMs, "clicks", "recommendations", "v2", ""}, 5},
      {{kDayMs, "orders", "recommendations", "v2", ""}, 2},
      {{kDayMs, "revenue", "recommendations", "v2", ""}, 30},
      {{kDayMs, "storage_bytes", "", "", ""}, 1000},
  };
  Report r = Summarize(rows);
  EXPECT_EQ(r.total.calls, 10);
  EXPECT_DOUBLE_EQ(r.total.latency.Average(), 5);
  EXPECT_EQ(r.total.served, 20);
  EXPECT_DOUBLE_EQ(r.total.cache_hit_rate(), 2.0 / 18.0);  // recommendations answers only
  EXPECT_EQ(r.total.impressions(), 25);
  EXPECT_DOUBLE_EQ(r.total.click_through_rate(), 5.0 / 25.0);
  EXPECT_DOUBLE_EQ(r.total.conversion_rate(), 2.0 / 5.0);
  EXPECT_DOUBLE_EQ(r.total.average_order_value(), 15);
  EXPECT_EQ(r.by_model_version["v2"].served, 10);
  EXPECT_EQ(r.by_model_version["v2"].revenue, 30);
  EXPECT_EQ(r.by_model_version["v1"].served, 10);
  EXPECT_EQ(r.by_key["k1"].calls, 10);
  EXPECT_EQ(r.by_endpoint["POST /api/v1/recommendations"].errors, 1);
  EXPECT_EQ(r.by_day.size(), 2u);
  EXPECT_EQ(r.by_day[kDayMs].clicks, 5);
  EXPECT_EQ(r.storage_bytes_by_day[kDayMs], 1000);
  EXPECT_EQ(r.total.revenue, 30);  // the gauge is not a figure

  auto hourly = Series(rows, kHourMs);
  EXPECT_EQ(hourly.size(), 3u);
  EXPECT_EQ(hourly[kDayMs + kHourMs].by_model_version["v2"].served, 10);
  auto daily = Series(rows, kDayMs);
  EXPECT_EQ(daily.size(), 2u);
  EXPECT_EQ(daily[kDayMs].all.served, 10);
}

TEST(ReportTest, UsageIsByDayAndKey) {
  std::vector<store::CounterRow> rows = {
      {{kHourMs, "calls", "POST /api/v1/recommendations", "", "k1"}, 3},
      {{2 * kHourMs, "calls", "POST /api/v1/interactions", "", "k1"}, 2},
      {{kHourMs, "calls", "GET /api/v1/models", "", ""}, 1},
      {{kHourMs, "served", "recommendations", "v1", "k1"}, 3},
      {{kHourMs, "events_tracked", "", "", "k1"}, 2},
      {{kDayMs, "rows_imported", "", "", "k2"}, 100},
      {{kDayMs, "training_seconds", "", "", ""}, 12.5},
      {{kDayMs + kHourMs, "storage_bytes", "", "", ""}, 5000},
      {{kDayMs + 2 * kHourMs, "storage_bytes", "", "", ""}, 4000},
      {{kHourMs, "clicks", "recommendations", "v1", ""}, 9},  // not usage
  };
  auto u = Usage(rows);
  ASSERT_EQ(u.size(), 4u);
  const UsageDay& k1 = u[{0, "k1"}];
  EXPECT_EQ(k1.calls, 5);
  EXPECT_EQ(k1.calls_by_endpoint.at("POST /api/v1/recommendations"), 3);
  EXPECT_EQ(k1.recommendations_served, 3);
  EXPECT_EQ(k1.events_tracked, 2);
  EXPECT_EQ((u[{0, ""}].calls), 1);
  EXPECT_EQ((u[{kDayMs, "k2"}].rows_imported), 100);
  EXPECT_EQ((u[{kDayMs, ""}].training_seconds), 12.5);
  EXPECT_EQ((u[{kDayMs, ""}].storage_bytes), 5000);  // the day's largest
}

}  // namespace
}  // namespace embedrec::analytics
