// What a tenant's counted rows say: the dashboard's figures, per endpoint,
// per model version and per day, and time series for charts. Pure
// functions over the rows the analytics store returns (store/analytics_store.h).
//
// Metric names (the counters' `metric` column):
//   calls, errors (status >= 400), latency_ms (sum), latency_bucket_<i>
//     by route ("POST /api/v1/recommendations") and API key
//   served, cache_hits, items_shown   by answer kind (recommendations, similar,
//     popular), model version and API key
//   shown_events (recommendations_shown not matching a logged answer)
//   clicks, carts, orders, revenue    by answer kind and model version
//   source_clicks, source_carts, source_orders, source_revenue   by the
//     clicks' context.source (in `endpoint`; not in the totals: the same
//     clicks counted again by where they happened)
//   events_tracked, rows_imported by API key; training_seconds
//   storage_bytes (a gauge by day)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "store/analytics_store.h"

namespace embedrec::analytics {

// Latency histogram buckets: bucket i holds (Bound(i-1), Bound(i)] ms, with
// Bound(i) = 0.1 ms × 2^(i/2); the last one everything above.
inline constexpr int kLatencyBuckets = 44;
int LatencyBucket(double ms);
double LatencyBound(int bucket);
std::string LatencyMetric(int bucket);  // "latency_bucket_<i>"

struct Latency {
  double calls = 0, sum_ms = 0;
  std::vector<double> buckets = std::vector<double>(kLatencyBuckets, 0.0);
  double Average() const { return calls > 0 ? sum_ms / calls : 0; }
  // The q-quantile (0..1), interpolated inside its bucket; 0 without calls.
  double Quantile(double q) const;
};

struct Figures {
  double calls = 0, errors = 0;
  Latency latency;
  double served = 0, cache_hits = 0, served_recommendations = 0, items_shown = 0;
  double shown_events = 0, clicks = 0, carts = 0, orders = 0, revenue = 0;
  double events_tracked = 0, rows_imported = 0, training_seconds = 0;

  double impressions() const { return served + shown_events; }
  double click_through_rate() const { return impressions() > 0 ? clicks / impressions() : 0; }
  double conversion_rate() const { return clicks > 0 ? orders / clicks : 0; }
  // Answers of the recommendations endpoint that came from the result cache.
  double cache_hit_rate() const { return served_recommendations > 0 ? cache_hits / served_recommendations : 0; }
  double average_order_value() const { return orders > 0 ? revenue / orders : 0; }
  void Add(const store::CounterRow& row);
  // The row counted as metric `m` (the source_ rows: their figure without the prefix).
  void Add(std::string_view m, const store::CounterRow& row);
};

struct Report {
  Figures total;
  std::map<std::string, Figures> by_endpoint;       // routes and answer kinds
  std::map<std::string, Figures> by_model_version;  // answers and what they earned
  std::map<std::string, Figures> by_key;            // usage by API key ("" : users)
  std::map<int64_t, Figures> by_day;                // day start (UTC ms)
  std::map<std::string, Figures> by_source;         // context.source of the clicks: clicks, carts, orders, revenue
  std::map<int64_t, double> storage_bytes_by_day;
};

Report Summarize(const std::vector<store::CounterRow>& rows);

// Per interval (hour or day) start: the figures of every row in it, and
// split by model version.
struct Bucket {
  Figures all;
  std::map<std::string, Figures> by_model_version;
};
std::map<int64_t, Bucket> Series(const std::vector<store::CounterRow>& rows, int64_t interval_ms);

// Usage records for billing: per day and API key ("" : the tenant's users,
// the platform, and what belongs to no key: training, storage).
struct UsageDay {
  std::map<std::string, double> calls_by_endpoint;  // route → calls
  double calls = 0, recommendations_served = 0, events_tracked = 0, rows_imported = 0;
  double training_seconds = 0, storage_bytes = 0;  // on the "" row
};
// By (day start, key id), oldest first.
std::map<std::pair<int64_t, std::string>, UsageDay> Usage(const std::vector<store::CounterRow>& rows);

inline constexpr int64_t kMinuteMs = 60'000, kHourMs = 3'600'000, kDayMs = 86'400'000;
inline int64_t FloorTo(int64_t ms, int64_t unit) { return ms >= 0 ? ms / unit * unit : (ms - unit + 1) / unit * unit; }

}  // namespace embedrec::analytics
