#include "analytics/report.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>

namespace embedrec::analytics {

int LatencyBucket(double ms) {
  if (!(ms > 0.1)) return 0;
  const int b = static_cast<int>(std::ceil(2.0 * std::log2(ms / 0.1) - 1e-9));
  return std::clamp(b, 0, kLatencyBuckets - 1);
}

double LatencyBound(int bucket) { return 0.1 * std::pow(2.0, bucket / 2.0); }

std::string LatencyMetric(int bucket) { return "latency_bucket_" + std::to_string(bucket); }

double Latency::Quantile(double q) const {
  double total = 0;
  for (double c : buckets) total += c;
  if (total <= 0) return 0;
  const double target = std::clamp(q, 0.0, 1.0) * total;
  double seen = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    if (buckets[i] <= 0) continue;
    if (seen + buckets[i] >= target) {
      const double lo = i == 0 ? 0.0 : LatencyBound(i - 1), hi = LatencyBound(i);
      return lo + (hi - lo) * std::clamp((target - seen) / buckets[i], 0.0, 1.0);
    }
    seen += buckets[i];
  }
  return LatencyBound(kLatencyBuckets - 1);
}

void Figures::Add(const store::CounterRow& row) { Add(row.key.metric, row); }

void Figures::Add(std::string_view m, const store::CounterRow& row) {
  // Metrics that only add to one figure.
  static const std::unordered_map<std::string_view, double Figures::*> kSums = {
      {"errors", &Figures::errors},           {"cache_hits", &Figures::cache_hits},
      {"items_shown", &Figures::items_shown}, {"shown_events", &Figures::shown_events},
      {"clicks", &Figures::clicks},           {"carts", &Figures::carts},
      {"orders", &Figures::orders},           {"revenue", &Figures::revenue},
      {"events_tracked", &Figures::events_tracked}, {"rows_imported", &Figures::rows_imported},
      {"training_seconds", &Figures::training_seconds}};
  const double v = row.value;
  if (auto it = kSums.find(m); it != kSums.end()) {
    this->*(it->second) += v;
  } else if (m == "calls") {
    calls += v;
    latency.calls += v;
  } else if (m == "latency_ms") {
    latency.sum_ms += v;
  } else if (m.starts_with("latency_bucket_")) {
    const int b = std::atoi(std::string(m.substr(15)).c_str());
    if (b >= 0 && b < kLatencyBuckets) latency.buckets[b] += v;
  } else if (m == "served") {
    served += v;
    if (row.key.endpoint == "recommendations") served_recommendations += v;
  }
}

Report Summarize(const std::vector<store::CounterRow>& rows) {
  Report r;
  for (const auto& row : rows) {
    if (row.key.metric.starts_with("source_")) {  // the clicks' figures again, by their source
      r.by_source[row.key.endpoint].Add(std::string_view(row.key.metric).substr(7), row);
      continue;
    }
    if (row.key.metric == "storage_bytes") {
      double& b = r.storage_bytes_by_day[FloorTo(row.key.start_ms, kDayMs)];
      b = std::max(b, row.value);
      continue;
    }
    r.total.Add(row);
    if (!row.key.endpoint.empty()) r.by_endpoint[row.key.endpoint].Add(row);
    if (!row.key.model_version.empty()) r.by_model_version[row.key.model_version].Add(row);
    r.by_key[row.key.key_id].Add(row);
    r.by_day[FloorTo(row.key.start_ms, kDayMs)].Add(row);
  }
  return r;
}

std::map<std::pair<int64_t, std::string>, UsageDay> Usage(const std::vector<store::CounterRow>& rows) {
  std::map<std::pair<int64_t, std::string>, UsageDay> out;
  for (const auto& row : rows) {
    const std::string& m = row.key.metric;
    auto slot = [&]() -> UsageDay& { return out[{FloorTo(row.key.start_ms, kDayMs), row.key.key_id}]; };
    if (m == "calls") {
      UsageDay& u = slot();
      u.calls += row.value;
      u.calls_by_endpoint[row.key.endpoint] += row.value;
    } else if (m == "served") {
      slot().recommendations_served += row.value;
    } else if (m == "events_tracked") {
      slot().events_tracked += row.value;
    } else if (m == "rows_imported") {
      slot().rows_imported += row.value;
    } else if (m == "training_seconds") {
      slot().training_seconds += row.value;
    } else if (m == "storage_bytes") {
      UsageDay& u = slot();
      u.storage_bytes = std::max(u.storage_bytes, row.value);
    }
  }
  return out;
}

std::map<int64_t, Bucket> Series(const std::vector<store::CounterRow>& rows, int64_t interval_ms) {
  std::map<int64_t, Bucket> out;
  for (const auto& row : rows) {
    Bucket& b = out[FloorTo(row.key.start_ms, interval_ms)];
    b.all.Add(row);
    if (!row.key.model_version.empty()) b.by_model_version[row.key.model_version].Add(row);
  }
  return out;
}

}  // namespace embedrec::analytics
