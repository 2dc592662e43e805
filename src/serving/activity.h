// What serving knows of recent activity, kept in memory per tenant and fed
// by every tracked interaction: each user's recent items (for fold-in) and
// the items of their whole history (for exclusions), item popularity over a
// recent window (trending), and how contexts (page, device, time of day)
// shift interest between categories. Every event is weighed by the tenant's
// interaction types (interactions/interaction_types.h).
// Profiles are loaded from the tenant's store on first use; popularity and
// the context counts are built from the stored history, kept current by
// Record, and rebuilt from the store every 10 minutes in the background
// while requests go on with the previous ones (no stall, no herd of
// rebuilds); the first build is made by one request while the others wait
// for it.
//
// Thread safety: safe for concurrent use. Profile and Trending may read the
// store (call from workers); Record never blocks on I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "interactions/interaction_types.h"
#include "serving/background.h"
#include "serving/tenant_memory.h"
#include "store/tenant_stores.h"

namespace embedrec::serving {

struct UserEvent {
  std::string item_id, type;
  int64_t ts_ms = 0;         // the event's own time (may lie in the uploaded data's past)
  float weight = 1;          // its type's weight for the tenant (> 0)
  int64_t tracked_ms = 0;    // wall clock when tracked by this process; 0: read from the store
};

struct UserProfile {
  std::vector<UserEvent> recent;  // oldest first, at most Activity::kRecent
  // Over the whole history, at any length (the store's per-user index).
  std::set<std::string> purchased, interacted;
  uint64_t version = 0;           // changes with every event (result-cache key)
};

// Item popularity over a recent window, robust to how events are stamped:
//   * each (user, item) pair counts once, its strongest event (a visitor
//     cannot push an item by repeating events; one purchase weighs 5 views);
//   * an event's weight halves every half-life of the tenant's activity
//     time: time as the events tell it, with idle stretches (no event at
//     all) counted as at most kMaxIdleDays, so a live event stamped long
//     after an uploaded history outweighs it by a little, not by
//     2^(gap / half-life); timestamps after the wall clock count as now;
//   * the half-life is kTrendHalfLifeDays, or longer where the data is
//     sparse: at least the activity time back to the newest event of the
//     kTrendMinUsers-th most recent user (every user when fewer), so that a
//     few visitors cannot make the list alone (a shop with a handful of
//     visitors a week; ratings spread over years). Set at each build.
//
// A snapshot is a ranked base shared by many snapshots plus the few items
// whose score changed since (an overlay): a tracked event makes a new
// snapshot by sorting the overlay, not the whole catalog; the base is
// re-ranked once the overlay grows past a bound.
struct TrendingSnapshot {
  using Scored = std::vector<std::pair<std::string, double>>;  // item_id, score
  struct Base {
    Scored ranked;  // best first (score, then id)
    std::unordered_map<std::string, double> score;
    double Score(const std::string& item_id) const {  // 0 for an item nobody touched
      auto it = score.find(item_id);
      return it == score.end() ? 0 : it->second;
    }
  };
  std::shared_ptr<const Base> base;
  Scored changed;                            // best first; these items' base entries are stale
  std::unordered_map<std::string, double> changed_score;
  // The sum of every item's score: an item's share of it is the chance that
  // a shopper's next choice is that item (how popularity's scores read as
  // probabilities, like a model's).
  double total_score = 0;
  // The tenant's history holds a purchase (any time, uploaded or tracked):
  // what "exclude_from_recommendations": "auto" decides by.
  bool has_purchases = false;

  double Score(const std::string& item_id) const;  // 0 for an item nobody touched
  bool Contains(const std::string& item_id) const;
  // Calls fn(item_id, score) best first until it returns false.
  void ForEachRanked(const std::function<bool(const std::string&, double)>& fn) const;
  Scored Top(size_t n) const;
};

class Activity {
 public:
  static constexpr size_t kRecent = 50;
  static constexpr size_t kMaxProfiles = 200000;  // per tenant; past it one is dropped per load
  static constexpr double kTrendHalfLifeDays = 7;
  static constexpr size_t kTrendMinUsers = 50;
  static constexpr double kMaxIdleDays = 1;

  // `weights` gives a tenant's interaction-type weights (null: the defaults).
  explicit Activity(const Clock* clock, interactions::TypeWeightsFn weights = {})
      : clock_(clock), weights_fn_(std::move(weights)) {}

  // The user's profile (empty for an unknown user).
  StatusOr<std::shared_ptr<const UserProfile>> Profile(const std::string& tenant_id,
                                                       store::TenantStore& store,
                                                       const std::string& user_id);
  // An expired one is answered at once and rebuilt in the background (see SetBackground).
  StatusOr<std::shared_ptr<const TrendingSnapshot>> Trending(const std::string& tenant_id,
                                                             const std::shared_ptr<store::TenantStore>& store);
  // Where expired popularity is rebuilt; without it, by the request that
  // finds it expired. Call before concurrent use.
  void SetBackground(Background bg) { background_ = std::move(bg); }
  // Where each tenant's profiles and popularity are counted (null:
  // nowhere). Call before concurrent use.
  void SetMemory(TenantMemory* memory) { memory_ = memory; }
  // A committed interaction. `category` is the item's ("" when unknown);
  // `context` the event's context fields (page, device, time_of_day);
  // `weight` its type's weight for the tenant (callers on I/O-free paths pass
  // it; without it the weights function is asked, which may read settings).
  void Record(const std::string& tenant_id, const store::TrackEvent& ev, const std::string& category,
              const std::vector<std::pair<std::string, std::string>>& context,
              std::optional<double> weight = std::nullopt);
  // How much more (> 1) or less (< 1) the category is chosen in this context
  // than overall, from tracked events; 1 without evidence. Clipped to [0.5, 2].
  double ContextFactor(const std::string& tenant_id,
                       const std::vector<std::pair<std::string, std::string>>& context,
                       const std::string& category);
  // An upload changed the tenant's history: profiles and popularity are
  // read from the store again on next use (context lifts are kept).
  void DataChanged(const std::string& tenant_id);
  // Forgets a tenant (deleted).
  void Drop(const std::string& tenant_id);
  // True when the tenant's popularity is in memory (Trending will not read
  // the store). Never blocks.
  bool Warm(const std::string& tenant_id);

  // How many times popularity was built from the store, and read back from
  // its persisted snapshot instead (for tests and /metrics).
  uint64_t TrendBuilds() const { return trend_builds_.load(); }
  uint64_t TrendLoads() const { return trend_loads_.load(); }
  // A build that took at least this long is persisted in the tenant's store
  // (a first build after a restart or an idle close reads it back when only
  // tracked events changed the data since; it is rebuilt in the background
  // 10 minutes after it was built, as any); quicker ones are built again.
  static constexpr int64_t kPersistAfterMs = 300;
  void SetPersistAfterMs(int64_t ms) { persist_after_ms_ = ms; }  // before concurrent use (tests)
  void SetTrendMinUsers(size_t n) { trend_min_users_ = n; }        // before concurrent use (tests)

  // The tenant's interaction-type weights.
  interactions::TypeWeights Weights(const std::string& tenant_id) const;
  // The context fields that drive re-ranking (page, device, time_of_day) of
  // an interaction's stored context JSON; none for anything else.
  using ContextPairs = std::vector<std::pair<std::string, std::string>>;
  static ContextPairs ContextFields(std::string_view context_json);

 private:
  using ContextCounts = std::map<std::string, std::map<std::string, double>>;
  struct TrendState {
    std::unordered_map<std::string, double> score;
    double total = 0;  // of score
    ContextCounts context_counts;  // from the stored history (see TenantState), moved there on install
    std::shared_ptr<const TrendingSnapshot::Base> base;  // null: re-rank on the next read
    std::unordered_map<std::string, double> changed;     // scores changed since `base`
    // Activity time (see TrendingSnapshot): weights are relative to
    // reference_ms; the newest event's own time and activity time, for the next one.
    int64_t reference_ms = 0, newest_ts_ms = 0, activity_ms = 0;
    double half_life_ms = kTrendHalfLifeDays * 86400000.0;  // of activity time (see TrendingSnapshot)
    // (user, item) pairs tracked since the build: their counted weight.
    std::unordered_map<uint64_t, double> pair_weight;
    bool has_purchases = false;
    std::shared_ptr<const TrendingSnapshot> snapshot;  // null when dirty
    int64_t built_at_ms = 0;
  };
  struct TenantState {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const UserProfile>> profiles;
    std::unique_ptr<TrendState> trend;  // with it, context counts read from the store
    std::atomic<bool> has_trend{false};  // trend != null, read without the mutex (Warm)
    // A request is rebuilding an expired trend from the store; meanwhile the
    // others are answered from the expired one (one rebuild, no stall).
    bool trend_rebuilding = false;
    // Valid while a request builds the first trend (none before): the others wait for it.
    std::shared_future<void> first_build;
    uint64_t data_changes = 0;  // DataChanged calls: a rebuild begun before one is stale
    // context "page=home" → category → events; "" → category → events (all contexts)
    // Rebuilt from the stored contexts with the trend, then fed by Record.
    ContextCounts context_counts;
    // What the profiles and the trend hold (estimated), and what was last
    // told to the TenantMemory.
    int64_t profile_bytes = 0, trend_bytes = 0, reported_bytes = 0;
  };
  std::shared_ptr<TenantState> State(const std::string& tenant_id);
  static StatusOr<std::unique_ptr<TrendState>> BuildTrend(store::TenantStore& store,
                                                          const interactions::TypeWeights& weights, int64_t now,
                                                          size_t min_users);
  // Builds the tenant's popularity from the store as of `now` and installs
  // it; `changes` is t.data_changes when the build was decided,
  // `background` true off the request path, `first` when none is in memory
  // (then a persisted one that is still current is installed instead, and
  // rebuilt 10 minutes after it was built, in the background).
  Status Rebuild(TenantState& t, const std::string& tenant_id, store::TenantStore& store, uint64_t changes,
                 int64_t now, bool background, bool first);
  // The persisted popularity (activity_snapshot.cc): sealed bytes of a
  // built state with the weights it was built with; LoadTrend refuses one
  // the data changed after (uploads, catalog changes) or other weights.
  static std::string EncodeTrend(const TrendState& tr, const interactions::TypeWeights& weights);
  static StatusOr<std::unique_ptr<TrendState>> DecodeTrend(std::string_view bytes,
                                                           const interactions::TypeWeights& weights);
  static StatusOr<std::unique_ptr<TrendState>> LoadTrend(store::TenantStore& store,
                                                         const interactions::TypeWeights& weights);
  static Status SaveTrend(store::TenantStore& store, int64_t position, const std::string& bytes, int64_t now);
  // Installs a built or loaded state unless an upload changed the data
  // since `changes` (then: dropped when built in the background, else kept
  // expired); false when dropped. Under t.mu.
  static bool Install(TenantState& t, std::unique_ptr<TrendState> state, uint64_t changes, int64_t now,
                      bool background);
  // The activity time of an event stamped ts_ms (see TrendingSnapshot); advances the clock.
  static int64_t ActivityTime(TrendState& tr, int64_t ts_ms);
  // One weighted event of an item of `category` in `context` (nothing without a category).
  static void CountContext(ContextCounts& counts, const std::string& category, const ContextPairs& context);
  // The snapshot readers get: the base (re-ranked when missing or when too
  // much changed since) and the changed items' overlay. Under the tenant's mutex.
  static std::shared_ptr<const TrendingSnapshot> Snapshot(TrendState& tr);
  static void Apply(UserProfile& p, const UserEvent& e);
  // Record's work on the tenant's state, weight `w` given. Under t.mu.
  static void RecordLocked(TenantState& t, const store::TrackEvent& ev, const std::string& category,
                           const ContextPairs& context, double w, uint64_t version, int64_t now);
  // Estimated bytes of a kept profile (with its map entry) and of a trend state.
  static int64_t ProfileBytes(const std::string& user_id, const UserProfile& p);
  static int64_t TrendBytes(const TrendState& tr);
  // The tenant's bytes now, to tell the TenantMemory (after t.mu is let go);
  // -1 when it changed too little since last told to be worth telling. Under t.mu.
  static int64_t BytesToReport(TenantState& t, bool always);
  // Tells the TenantMemory (nothing for -1, or when `t` is no longer the
  // tenant's state; null `t`: always).
  void Report(const std::string& tenant_id, const TenantState* t, int64_t bytes);

  const Clock* clock_;
  interactions::TypeWeightsFn weights_fn_;
  Background background_;
  TenantMemory* memory_ = nullptr;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<TenantState>> tenants_;
  uint64_t next_version_ = 1;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> trend_builds_{0}, trend_loads_{0};
  int64_t persist_after_ms_ = kPersistAfterMs;
  size_t trend_min_users_ = kTrendMinUsers;
  uint64_t NextVersion();
};

}  // namespace embedrec::serving
