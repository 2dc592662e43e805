// Analytics: what the API did for each tenant and what its recommendations
// earned. Requests count themselves here on the hot path (in memory,
// sharded, never blocking on I/O); one background thread attributes tracked
// events to the answers they came from (analytics/attribution.h) and adds
// everything to the analytics store (store/analytics_store.h) in a batch
// per tenant every flush interval. Reads summarize the stored rows
// (analytics/report.h).
//
//   request ─ Call / Served / Tracked / Imported / Trained ─▶ shards (memory)
//   every second: shards drained ─▶ attribution (recommendation log, clicks)
//                                 ─▶ AnalyticsStore::Add, one transaction per tenant
//
// What is counted but not yet flushed is lost if the process is killed
// (at most a flush interval); a graceful stop flushes.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "analytics/attribution.h"
#include "analytics/report.h"
#include "common/clock.h"
#include "store/analytics_store.h"
#include "store/recommendation_log.h"

namespace embedrec::analytics {

struct AnalyticsOptions {
  int64_t flush_interval_ms = 1000;
  size_t max_queued_events = 200000;  // tracked events awaiting attribution (per flush); more are dropped and counted
  // The bytes a tenant stores (usage records), asked at most hourly per
  // tenant that had something counted; null: not recorded.
  std::function<int64_t(const std::string& tenant_id)> storage_bytes;
  // How long counters are kept by the minute (hours and days stay).
  int64_t minute_retention_ms = 48 * 3'600'000LL;
  // The log is shared with other nodes (scale-out): the users they answered
  // are read from it before each flush's clicks are attributed.
  bool shared_log = false;
};

class Analytics {
 public:
  // `log` may be null (no answer is logged: clicks are never attributed).
  // Every pointer outlives the service.
  Analytics(store::AnalyticsStore* store, store::RecommendationLog* log, const Clock* clock,
            AnalyticsOptions options = {});
  ~Analytics();  // flushes

  // ---- Hot path: never blocks on I/O.
  // An answered API call: its route, status and time.
  void Call(const std::string& tenant_id, const std::string& key_id, const std::string& route, int status,
            double ms);
  // An answer shown: kind "recommendations", "similar" or "popular"; the
  // items in order; the user it was for ("" when none); the experiment arm
  // that chose its version (null: none).
  struct Arm {
    const std::string& experiment_id;
    const std::string& arm;
  };
  void Served(const std::string& tenant_id, const std::string& key_id, const std::string& kind,
              const std::string& model_version, const std::vector<std::string>& items, bool cached,
              const std::string& user_id = "", const Arm* arm = nullptr);
  // A committed, new tracked event (duplicates and replays are not).
  void Tracked(const std::string& tenant_id, TrackedEvent event);
  void Imported(const std::string& tenant_id, const std::string& key_id, int64_t rows);
  void Trained(const std::string& tenant_id, double seconds);

  // Attributes and writes everything counted before the call.
  Status Flush();
  // A deleted tenant: what is queued for it is dropped, its handles closed.
  void Forget(const std::string& tenant_id);
  // An idle tenant: its handles closed by the next flush (its rows stay).
  void Close(const std::string& tenant_id);

  // ---- Reads (block on I/O) over [from_ms, to_ms): counters of the hours
  // overlapping it (whole days read from the day rollup), per-item figures
  // of the days overlapping it. `metrics`: prefixes of the metrics needed
  // (empty: all).
  StatusOr<Report> Summarize(const std::string& tenant_id, int64_t from_ms, int64_t to_ms);
  // The experiment's arms with their users' figures summed (what is flushed).
  StatusOr<std::map<std::string, store::ArmSums>> ExperimentArms(const std::string& tenant_id,
                                                                 const std::string& experiment_id);
  // Usage records by day and API key.
  StatusOr<std::map<std::pair<int64_t, std::string>, UsageDay>> UsageOf(const std::string& tenant_id,
                                                                         int64_t from_ms, int64_t to_ms);
  // Points every `interval_ms` (a minute, an hour or a day); by the minute
  // only over the minutes kept (MinutesKeptSince).
  StatusOr<std::map<int64_t, Bucket>> Series(const std::string& tenant_id, int64_t from_ms, int64_t to_ms,
                                             int64_t interval_ms, const std::vector<std::string>& metrics);
  // The oldest time whose minutes are surely kept.
  int64_t MinutesKeptSince() const;
  // The `limit` most shown items. The sums of the days before today are
  // kept in memory for the next call over the same days (32 tenants' worth,
  // a million items in all at most), so only today's rows are read again.
  StatusOr<std::vector<std::pair<std::string, store::ItemCounts>>> TopItems(const std::string& tenant_id,
                                                                            int64_t from_ms, int64_t to_ms,
                                                                            int limit);

  // Tracked events dropped because the queue was full; batches that could not be written.
  uint64_t dropped_events() const;
  uint64_t failed_batches() const;

 private:
  // The hot path's counters of one tenant, found without allocating once a
  // series exists (ordered maps looked up by views; items by hash).
  struct CallStats {
    double calls = 0, errors = 0, latency_ms = 0;
    std::array<double, kLatencyBuckets> buckets{};
  };
  struct ServedStats {
    double served = 0, cache_hits = 0, items_shown = 0;
  };
  // A tracked event and its place in the order events reached Tracked over all
  // threads: a click answered before its purchase was tracked comes first.
  struct Queued {
    uint64_t seq;
    TrackedEvent event;
  };
  using Two = std::tuple<int64_t, std::string, std::string>;                // hour, a, b
  using Three = std::tuple<int64_t, std::string, std::string, std::string>;  // hour, a, b, c
  struct TenantCounts {
    std::map<Two, CallStats, std::less<>> calls;           // hour, route, key
    std::map<Three, ServedStats, std::less<>> served;      // hour, kind, model version, key
    std::map<Two, double, std::less<>> counted;            // hour, metric, key
    std::map<int64_t, std::unordered_map<std::string, double>> shown;  // day → item → impressions
    std::vector<uint64_t> users;  // hashes of the users answered
    std::vector<Queued> events;   // awaiting attribution
    // Experiment arms' answers per (experiment, arm, user), zeroed in place
    // by a drain (a user answered again needs no allocation).
    std::map<std::tuple<std::string, std::string, std::string>, double, std::less<>> arm_users;
  };
  // Two sets of counts per shard: requests add to the active one while a
  // flush drains the other, zeroing values in place so the next second's
  // requests find their series (and items) without allocating.
  struct Shard {
    std::mutex mu;
    std::array<std::unordered_map<std::string, TenantCounts>, 2> sets;
    int active = 0;  // GUARDED_BY(mu)
    TenantCounts& Of(const std::string& tenant_id);
  };
  // Adds a tenant's counts to a batch and zeroes them, dropping series of
  // hours and days before `now_ms` and item maps grown past a bound.
  static void Drain(TenantCounts& c, store::AnalyticsBatch* into, int64_t now_ms);
  static bool Empty(const TenantCounts& c);
  Shard& ShardForThread();
  void Count(const std::string& tenant_id, const char* metric, const std::string& key_id, double value);
  void Loop();
  // Drains the shards and the events, attributes, writes. Under flush_mu_.
  // Events tracked while it runs wait for the next one, unless `all`.
  void FlushOnce(bool all);
  void Attribute(const std::string& tenant_id, const std::vector<TrackedEvent>& events,
                 store::AnalyticsBatch* batch);
  // Per-item sums over whole past days [from_day, to_day): the run kept in the
  // store, slid forward from an earlier one, or summed whole (then kept).
  using ItemSums = std::vector<std::pair<std::string, store::ItemCounts>>;
  StatusOr<ItemSums> PastItemSums(const std::string& tenant_id, int64_t from_day, int64_t to_day);
  // Counter rows over [from_ms, to_ms): days in the middle, hours around
  // them, minutes at the ends while kept (else the hours holding the ends).
  StatusOr<std::vector<store::CounterRow>> Rows(const std::string& tenant_id, int64_t from_ms, int64_t to_ms,
                                                const std::vector<std::string>& metrics);
  static int64_t Minute(int64_t ts_ms) { return FloorTo(ts_ms, kMinuteMs); }

  store::AnalyticsStore* store_;
  store::RecommendationLog* log_;
  const Clock* clock_;
  const AnalyticsOptions options_;

  static constexpr size_t kShards = 16;
  std::array<Shard, kShards> shards_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> dropped_events_{0};
  uint64_t failed_batches_ = 0;  // GUARDED_BY(mu_)
  std::set<std::string> forgotten_;  // GUARDED_BY(mu_)
  std::set<std::string> to_close_;   // GUARDED_BY(mu_): closed by the next flush
  // Item sums over past days to keep in the store (PastItemSums), written by the next flush.
  std::map<std::string, store::AnalyticsStore::ItemWindow> to_keep_;  // GUARDED_BY(mu_)
  bool stop_ = false;

  // Per-item sums over whole past days, by tenant, for TopItems.
  struct PastItems {
    int64_t from_day = 0, to_day = 0;  // [from_day, to_day)
    std::shared_ptr<const ItemSums> items;  // shared with the calls reading it
    uint64_t used = 0;
  };
  static constexpr size_t kPastItemsKept = 32;         // tenants
  static constexpr size_t kPastItemsMax = 1'000'000;   // items over all of them (estimated ~100 MB)
  std::mutex past_mu_;
  std::map<std::string, PastItems> past_items_;  // GUARDED_BY(past_mu_)
  uint64_t past_clock_ = 0;                      // GUARDED_BY(past_mu_)

  // The users each tenant answered lately, so a view by anybody else needs
  // no look-up in the log: two generations of hashes, each a day long (the
  // longest click window), seeded from the log's last day. With a shared
  // log, the users other nodes answered are added from it once per flush
  // that has clicks to attribute (those logged since the last time, less a
  // margin for answers written late).
  struct RecentUsers {
    int64_t since_ms = 0, generation_ms = 0;
    int64_t refreshed_ms = 0;     // the log was last read for users then
    uint64_t refreshed_flush = 0;  // by that flush
    std::unordered_set<uint64_t> current, previous;
    bool full = false;  // more users than kept: every view is looked up (until two rotations)
  };
  static constexpr size_t kRecentUsersMax = 1'000'000;  // per generation (estimated ~40 MB)
  std::map<std::string, RecentUsers> recent_;  // GUARDED_BY(flush_mu_)
  RecentUsers& Recent(const std::string& tenant_id);  // seeded from the log on first use
  static constexpr int64_t kSharedLogMarginMs = 10'000;
  // The seed asks for the users of the log's last day less this: the log's
  // index of recent answers covers its last day from when it is filled, often
  // by that very call, a few milliseconds after this side read the clock.
  static constexpr int64_t kSeedInsideMs = 60'000;
  uint64_t flushes_ = 0;  // GUARDED_BY(flush_mu_)
  // Whether `user_id` may have been answered within `window_ms` before `ts_ms`
  // (true when the record does not reach back that far).
  bool MaybeAnswered(const std::string& tenant_id, const std::string& user_id, int64_t ts_ms, int64_t window_ms);

  // Events are numbered under their shard's lock; a flush attributes those
  // numbered before it began swapping shards (all drained by then, whichever
  // shard each is in) in that order, and keeps later ones for the next flush.
  std::atomic<uint64_t> next_seq_{0};
  std::map<std::string, std::vector<Queued>> held_;  // GUARDED_BY(flush_mu_)

  std::mutex flush_mu_;  // one flush at a time
  std::map<std::string, int64_t> last_prune_;    // GUARDED_BY(flush_mu_)
  std::map<std::string, int64_t> last_storage_;  // GUARDED_BY(flush_mu_)
  std::thread thread_;   // last: starts once everything above exists
};

}  // namespace embedrec::analytics
