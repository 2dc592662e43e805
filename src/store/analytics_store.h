// Where analytics keeps what it counted: rollups by the minute, hour and day (API calls,
// latency histograms, answers served, impressions, attributed clicks,
// carts, orders and revenue, usage), per-item figures by the day, and the
// attributed clicks that later carts and purchases are matched to, and
// each experiment's figures per arm and user. Rows are
// added to (never overwritten), in one transaction per batch, so a batch
// is counted once or not at all.
//
// Backends: SQLite (embedded: `root`/<tenant_id>/analytics.db beside the
// tenant's database) and PostgreSQL (scale-out: tables in the tenant's
// schema, added to by every node). Every backend passes
// tests/store/analytics_store_test.cc.
//
// Thread safety: safe for concurrent use; every call may block on I/O.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/status.h"

namespace embedrec::store {

// One counted series in one minute, hour or day (see Grain). Dimensions a
// metric does not have are "".
struct CounterKey {
  int64_t start_ms = 0;       // start of its minute (UTC) in a batch; of the grain asked for in rows read
  std::string metric;         // "calls", "served", "clicks", "revenue", "latency_bucket_7", ...
  std::string endpoint;       // a route ("POST /api/v1/recommendations") or an answer kind ("similar")
  std::string model_version;
  std::string key_id;         // the API key that called, "" for users and the platform
  auto operator<=>(const CounterKey&) const = default;
};

struct ItemKey {
  int64_t day_ms = 0;  // start of the day (UTC)
  std::string item_id;
  auto operator<=>(const ItemKey&) const = default;
};

struct ItemCounts {
  double impressions = 0, clicks = 0, carts = 0, purchases = 0, revenue = 0;
  void Add(const ItemCounts& o) {
    impressions += o.impressions;
    clicks += o.clicks;
    carts += o.carts;
    purchases += o.purchases;
    revenue += o.revenue;
  }
};

// A view attributed to a recommendation: later carts and purchases of the
// same user and item within the conversion window are attributed to it.
struct AttributedClick {
  std::string user_id, item_id, recommendation_id, endpoint, model_version;
  int64_t ts_ms = 0;
  std::string source;  // the click's context.source ("" when none)
  std::string experiment_id, arm;  // the answer's experiment arm ("" when none)
};

// One user's figures in one arm of an experiment: answers shown, and the
// clicks, orders and revenue attributed to them.
struct ArmUserKey {
  std::string experiment_id, arm, user_id;
  auto operator<=>(const ArmUserKey&) const = default;
};
struct ArmUserCounts {
  double impressions = 0, clicks = 0, orders = 0, revenue = 0;
};

// An arm's per-user figures summed (the unit of an experiment is the user:
// users are assigned to arms), with the sums of squares and of products a
// test needs for their variances.
struct ArmSums {
  double users = 0;
  double impressions = 0, clicks = 0, orders = 0, revenue = 0;
  double impressions_sq = 0, clicks_sq = 0, orders_sq = 0, revenue_sq = 0;
  double clicks_x_impressions = 0, orders_x_impressions = 0;
};

// What one flush adds for one tenant.
struct AnalyticsBatch {
  std::map<CounterKey, double> counters;
  std::map<ItemKey, ItemCounts> items;
  std::vector<AttributedClick> clicks;
  // Gauges (the latest value wins, not a sum): e.g. storage bytes by day.
  std::map<CounterKey, double> gauges;
  std::map<ArmUserKey, ArmUserCounts> arm_users;  // added to the users' rows
  bool empty() const {
    return counters.empty() && items.empty() && clicks.empty() && gauges.empty() && arm_users.empty();
  }
};

struct CounterRow {
  CounterKey key;
  double value = 0;
};

class AnalyticsStore {
 public:
  virtual ~AnalyticsStore() = default;

  // Adds the batch (sums counters into their minute, hour and day, and item
  // figures into their day; keeps the clicks; sets the gauges in their
  // minute, hour and day) in one transaction. A tenant without a space gets nothing
  // written (kNotFound).
  virtual Status Add(const std::string& tenant_id, const AnalyticsBatch& batch) = 0;

  // Counters are kept by the minute (until pruned: PruneMinutes), the hour
  // and the day, rolled up as they are added.
  enum class Grain { kMinute, kHour, kDay };
  // The tenant's rows of that grain starting in [from_ms, to_ms), of the
  // metrics starting with one of `metric_prefixes` (empty: every metric).
  virtual StatusOr<std::vector<CounterRow>> Counters(const std::string& tenant_id, Grain grain, int64_t from_ms,
                                                     int64_t to_ms,
                                                     const std::vector<std::string>& metric_prefixes) = 0;
  // Per-item figures summed over the days with from_ms <= day_ms < to_ms,
  // the `limit` most shown first (ties by item id).
  virtual StatusOr<std::vector<std::pair<std::string, ItemCounts>>> TopItems(const std::string& tenant_id,
                                                                             int64_t from_ms, int64_t to_ms,
                                                                             int limit) = 0;
  // Per-item sums over whole past days [from_day_ms, to_day_ms), kept so a
  // later call (after a restart, or a day on, sliding) need not sum every
  // item-day again. One run is kept per length in days, the last
  // kItemWindowsKept lengths put; Keep replaces the run of its length.
  struct ItemWindow {
    int64_t from_day_ms = 0, to_day_ms = 0;
    std::vector<std::pair<std::string, ItemCounts>> items;
  };
  static constexpr int kItemWindowsKept = 4;
  // The kept run `days` long (nullopt when none).
  virtual StatusOr<std::optional<ItemWindow>> KeptItemWindow(const std::string& tenant_id, int64_t days) = 0;
  virtual Status KeepItemWindow(const std::string& tenant_id, const ItemWindow& window) = 0;
  // The newest click of the user on the item with from_ms <= ts_ms <= to_ms.
  virtual StatusOr<std::optional<AttributedClick>> LastClick(const std::string& tenant_id,
                                                             const std::string& user_id,
                                                             const std::string& item_id, int64_t from_ms,
                                                             int64_t to_ms) = 0;
  // The experiment's arms ("control", "challenger") with their users' figures summed.
  virtual StatusOr<std::map<std::string, ArmSums>> ExperimentArms(const std::string& tenant_id,
                                                                  const std::string& experiment_id) = 0;
  // Deletes clicks older than `before_ms` (past every conversion window).
  virtual Status PruneClicks(const std::string& tenant_id, int64_t before_ms) = 0;
  // Deletes minute rows of minutes before `before_ms` (hours and days stay).
  virtual Status PruneMinutes(const std::string& tenant_id, int64_t before_ms) = 0;

  // Closes the tenant's handles (idle); its data stays.
  virtual void CloseTenant(const std::string& tenant_id) = 0;
};

// Embedded backend: `root`/<tenant_id>/analytics.db.
std::unique_ptr<AnalyticsStore> NewSqliteAnalyticsStore(const std::string& root);
// Scale-out backend: tables in each tenant's schema of the PostgreSQL
// database at `url` (made by NewPostgresTenantStores), over a pool of its
// own. kUnavailable when the database cannot be reached.
StatusOr<std::unique_ptr<AnalyticsStore>> NewPostgresAnalyticsStore(const std::string& url, int pool_size = 4);

}  // namespace embedrec::store
