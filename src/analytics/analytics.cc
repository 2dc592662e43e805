#include "analytics/analytics.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "common/thread_priority.h"

namespace embedrec::analytics {

Analytics::Analytics(store::AnalyticsStore* store, store::RecommendationLog* log, const Clock* clock,
                     AnalyticsOptions options)
    : store_(store), log_(log), clock_(clock), options_(options), thread_([this] { Loop(); }) {}

Analytics::~Analytics() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();  // its last pass flushes
}

Analytics::Shard& Analytics::ShardForThread() {
  thread_local const size_t slot = std::hash<std::thread::id>()(std::this_thread::get_id()) % kShards;
  return shards_[slot];
}

Analytics::TenantCounts& Analytics::Shard::Of(const std::string& tenant_id) {
  auto& tenants = sets[active];
  auto it = tenants.find(tenant_id);
  if (it == tenants.end()) it = tenants.emplace(tenant_id, TenantCounts{}).first;
  return it->second;
}

void Analytics::Count(const std::string& tenant_id, const char* metric, const std::string& key_id, double value) {
  const int64_t minute = Minute(clock_->NowMillis());
  Shard& s = ShardForThread();
  std::lock_guard lock(s.mu);
  auto& counted = s.Of(tenant_id).counted;
  const auto view = std::tuple<int64_t, std::string_view, std::string_view>(minute, metric, key_id);
  auto it = counted.find(view);
  if (it == counted.end()) it = counted.emplace(Two{minute, metric, key_id}, 0.0).first;
  it->second += value;
}

void Analytics::Call(const std::string& tenant_id, const std::string& key_id, const std::string& route,
                     int status, double ms) {
  const int64_t minute = Minute(clock_->NowMillis());
  Shard& s = ShardForThread();
  std::lock_guard lock(s.mu);
  auto& calls = s.Of(tenant_id).calls;
  auto it = calls.find(std::tuple<int64_t, std::string_view, std::string_view>(minute, route, key_id));
  if (it == calls.end()) it = calls.emplace(Two{minute, route, key_id}, CallStats{}).first;
  CallStats& c = it->second;
  c.calls += 1;
  if (status >= 400) c.errors += 1;
  c.latency_ms += ms;
  c.buckets[LatencyBucket(ms)] += 1;
}

void Analytics::Served(const std::string& tenant_id, const std::string& key_id, const std::string& kind,
                       const std::string& model_version, const std::vector<std::string>& items, bool cached,
                       const std::string& user_id, const Arm* arm) {
  const int64_t now = clock_->NowMillis();
  const int64_t minute = Minute(now), day = FloorTo(now, kDayMs);
  Shard& s = ShardForThread();
  std::lock_guard lock(s.mu);
  TenantCounts& t = s.Of(tenant_id);
  auto it = t.served.find(
      std::tuple<int64_t, std::string_view, std::string_view, std::string_view>(minute, kind, model_version, key_id));
  if (it == t.served.end()) it = t.served.emplace(Three{minute, kind, model_version, key_id}, ServedStats{}).first;
  it->second.served += 1;
  if (cached) it->second.cache_hits += 1;
  it->second.items_shown += static_cast<double>(items.size());
  if (!user_id.empty()) t.users.push_back(std::hash<std::string>()(user_id));
  if (arm && !user_id.empty()) {
    const auto key = std::tuple<std::string_view, std::string_view, std::string_view>(arm->experiment_id, arm->arm,
                                                                                       user_id);
    auto a = t.arm_users.find(key);
    if (a == t.arm_users.end()) a = t.arm_users.emplace(std::tuple(arm->experiment_id, arm->arm, user_id), 0.0).first;
    a->second += 1;
  }
  auto& shown = t.shown[day];
  for (const auto& item : items) {
    auto i = shown.find(item);
    if (i == shown.end()) i = shown.emplace(item, 0.0).first;
    i->second += 1;
  }
}

namespace {
// Items kept per tenant, shard and day between flushes (beyond: dropped, allocated again).
constexpr size_t kMaxKeptItems = 20000;
// How long after midnight the day before may still be written to (a flush
// drained before it, a slow store): its item sums are not kept until then.
constexpr int64_t kDaySettleMs = 10 * 60'000;

// Emits and zeroes every series of `m` with a count; drops the zero ones of
// minutes before `minute` (nothing adds to them any more).
template <class Map, class Emit>
void DrainSeries(Map& m, int64_t minute, Emit emit) {
  for (auto it = m.begin(); it != m.end();) {
    if (std::get<0>(it->first) < minute) {
      emit(it->first, it->second);
      it = m.erase(it);
      continue;
    }
    emit(it->first, it->second);
    it->second = {};
    ++it;
  }
}
}  // namespace

void Analytics::Drain(TenantCounts& c, store::AnalyticsBatch* into, int64_t now_ms) {
  auto& counters = into->counters;
  const int64_t minute = Minute(now_ms), day = FloorTo(now_ms, kDayMs);
  DrainSeries(c.calls, minute, [&](const Two& k, const CallStats& v) {
    if (v.calls == 0) return;
    const auto& [h, route, key] = k;
    counters[{h, "calls", route, "", key}] += v.calls;
    if (v.errors > 0) counters[{h, "errors", route, "", key}] += v.errors;
    counters[{h, "latency_ms", route, "", key}] += v.latency_ms;
    for (int b = 0; b < kLatencyBuckets; ++b) {
      if (v.buckets[b] > 0) counters[{h, LatencyMetric(b), route, "", key}] += v.buckets[b];
    }
  });
  DrainSeries(c.served, minute, [&](const Three& k, const ServedStats& v) {
    if (v.served == 0) return;
    const auto& [h, kind, version, key] = k;
    counters[{h, "served", kind, version, key}] += v.served;
    if (v.cache_hits > 0) counters[{h, "cache_hits", kind, version, key}] += v.cache_hits;
    counters[{h, "items_shown", kind, version, key}] += v.items_shown;
  });
  DrainSeries(c.counted, minute, [&](const Two& k, double v) {
    if (v == 0) return;
    const auto& [h, metric, key] = k;
    counters[{h, metric, "", "", key}] += v;
  });
  bool answered = false;
  for (auto& [k, n] : c.arm_users) {
    if (n == 0) continue;
    into->arm_users[{std::get<0>(k), std::get<1>(k), std::get<2>(k)}].impressions += n;
    n = 0;
    answered = true;
  }
  // Kept for the users answered again; dropped when idle or too many.
  if (!answered || c.arm_users.size() > kMaxKeptItems) c.arm_users.clear();
  for (auto it = c.shown.begin(); it != c.shown.end();) {
    for (auto& [item, n] : it->second) {
      if (n == 0) continue;
      into->items[{it->first, item}].impressions += n;
      n = 0;
    }
    if (it->first < day || it->second.size() > kMaxKeptItems) {
      it = c.shown.erase(it);
    } else {
      ++it;
    }
  }
}

bool Analytics::Empty(const TenantCounts& c) {
  return c.calls.empty() && c.served.empty() && c.counted.empty() && c.shown.empty() && c.users.empty() &&
         c.events.empty() && c.arm_users.empty();
}

void Analytics::Tracked(const std::string& tenant_id, TrackedEvent event) {
  Count(tenant_id, "events_tracked", event.key_id, 1);
  if (RoleOf(event.type) == Role::kNone) return;
  Shard& s = ShardForThread();
  std::lock_guard lock(s.mu);
  std::vector<Queued>& events = s.Of(tenant_id).events;
  // The bound per shard and tenant: a store that cannot keep up loses attributions, never answers.
  if (events.size() >= options_.max_queued_events / kShards) {
    dropped_events_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  events.push_back({next_seq_.fetch_add(1), std::move(event)});  // seq_cst: ordered with the flush's cut
}

void Analytics::Imported(const std::string& tenant_id, const std::string& key_id, int64_t rows) {
  Count(tenant_id, "rows_imported", key_id, static_cast<double>(rows));
}

void Analytics::Trained(const std::string& tenant_id, double seconds) {
  Count(tenant_id, "training_seconds", "", seconds);
}

Status Analytics::Flush() {
  FlushOnce(/*all=*/false);
  return Status::Ok();
}

void Analytics::Forget(const std::string& tenant_id) {
  {
    std::lock_guard lock(mu_);
    forgotten_.insert(tenant_id);
    to_keep_.erase(tenant_id);
  }
  std::lock_guard flush(flush_mu_);  // a batch being written has finished
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    s.sets[0].erase(tenant_id);
    s.sets[1].erase(tenant_id);
  }
  store_->CloseTenant(tenant_id);
  held_.erase(tenant_id);
  last_prune_.erase(tenant_id);
  last_storage_.erase(tenant_id);
  recent_.erase(tenant_id);
  std::lock_guard past(past_mu_);
  past_items_.erase(tenant_id);
}

void Analytics::Close(const std::string& tenant_id) {
  // Closed by the next flush: the caller (an eviction, on a request's
  // thread) never waits for a batch being written.
  std::lock_guard lock(mu_);
  to_close_.insert(tenant_id);
}

void Analytics::Loop() {
  (void)NiceThisThread(10);  // background work: requests come first
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms), [&] { return stop_; });
    const bool stopping = stop_;
    lock.unlock();
    FlushOnce(/*all=*/stopping);
    lock.lock();
    if (stopping) return;
  }
}

void Analytics::FlushOnce(bool all) {
  std::lock_guard flush(flush_mu_);
  ++flushes_;
  std::map<std::string, store::AnalyticsBatch> batches;
  std::map<std::string, std::vector<Queued>> queued;  // by tenant
  queued.swap(held_);
  // Every event numbered below the cut is in a set this flush drains: it was
  // pushed under its shard's lock before the shard was swapped below.
  const uint64_t cut = all ? UINT64_MAX : next_seq_.load();
  const int64_t drained_at = clock_->NowMillis();
  for (Shard& s : shards_) {
    int idle;
    {
      std::lock_guard lock(s.mu);
      idle = s.active;
      s.active ^= 1;
    }
    // Requests now add to the other set; this one is the flush's alone.
    auto& set = s.sets[idle];
    for (auto it = set.begin(); it != set.end();) {
      TenantCounts& counts = it->second;
      Drain(counts, &batches[it->first], drained_at);
      if (!counts.events.empty()) {
        auto& to = queued[it->first];
        to.insert(to.end(), std::make_move_iterator(counts.events.begin()),
                  std::make_move_iterator(counts.events.end()));
        counts.events.clear();
      }
      if (!counts.users.empty()) {
        RecentUsers& r = Recent(it->first);
        if (!r.full) r.current.insert(counts.users.begin(), counts.users.end());
        if (r.current.size() > kRecentUsersMax) {
          r.full = true;  // a bound whatever a tenant asks for
          r.current.clear();
        }
        counts.users.clear();
      }
      it = Empty(counts) ? set.erase(it) : std::next(it);
    }
  }
  for (auto it = recent_.begin(); it != recent_.end();) {
    RecentUsers& r = it->second;
    const int64_t now = clock_->NowMillis();
    if (now - r.generation_ms < kDayMs) {
      ++it;
    } else if (r.current.empty() && r.previous.empty() && !r.full) {
      it = recent_.erase(it);  // nobody answered for a day: seeded again when needed
    } else {  // a new day-long generation
      r.previous.swap(r.current);
      r.current.clear();
      r.generation_ms = now;
      if (r.full) {  // trusted again once a whole generation was kept
        r.full = false;
        r.previous.clear();
        r.since_ms = now;
      }
      ++it;
    }
  }
  std::set<std::string> closing;
  std::map<std::string, store::AnalyticsStore::ItemWindow> windows;
  {
    std::lock_guard lock(mu_);
    closing.swap(to_close_);
    windows.swap(to_keep_);
    for (const auto& t : forgotten_) {
      batches.erase(t);
      queued.erase(t);
      windows.erase(t);
    }
  }
  // Shards hold each thread's events; attribution takes them in the order
  // they were tracked across threads (a click before the purchase it leads
  // to, even in the same millisecond), up to the cut.
  std::map<std::string, std::vector<TrackedEvent>> events;  // by tenant
  for (auto& [tenant, list] : queued) {
    std::sort(list.begin(), list.end(), [](const Queued& a, const Queued& b) { return a.seq < b.seq; });
    auto later = std::partition_point(list.begin(), list.end(), [&](const Queued& q) { return q.seq < cut; });
    if (later != list.end()) held_[tenant].assign(std::make_move_iterator(later), std::make_move_iterator(list.end()));
    if (later == list.begin()) continue;
    auto& to = events[tenant];
    to.reserve(static_cast<size_t>(later - list.begin()));
    for (auto it = list.begin(); it != later; ++it) to.push_back(std::move(it->event));
  }
  for (const auto& [tenant, window] : windows) {
    Status s = store_->KeepItemWindow(tenant, window);
    if (!s.ok() && s.code() != StatusCode::kNotFound) spdlog::warn("analytics of tenant {}: {}", tenant, s.ToString());
  }
  for (auto& [tenant, list] : events) Attribute(tenant, list, &batches[tenant]);
  const int64_t now = clock_->NowMillis();
  for (auto& [tenant, batch] : batches) {
    if (options_.storage_bytes) {
      int64_t& last = last_storage_[tenant];
      if (now - last >= kHourMs) {
        last = now;
        batch.gauges[{Minute(now), "storage_bytes", "", "", ""}] = static_cast<double>(options_.storage_bytes(tenant));
      }
    }
    Status s = store_->Add(tenant, batch);
    if (!s.ok()) {
      if (s.code() != StatusCode::kNotFound) spdlog::warn("analytics of tenant {}: {}", tenant, s.ToString());
      std::lock_guard lock(mu_);
      ++failed_batches_;
      continue;
    }
    int64_t& last = last_prune_[tenant];
    if (now - last > kHourMs) {
      last = now;
      // Clicks older than the longest conversion window anybody may set.
      (void)store_->PruneClicks(tenant, now - 30 * kDayMs);
      (void)store_->PruneMinutes(tenant, now - options_.minute_retention_ms);
    }
  }
  // Tenants evicted or idle since the last flush: closed once what they had
  // pending is written. (Skipping those with a batch pending lost the close
  // of every tenant served in its last second: 907 analytics databases stayed
  // open under a 64 MiB budget holding 33 tenants, docs/benchmarks.md.)
  for (const auto& t : closing) store_->CloseTenant(t);
}

void Analytics::Attribute(const std::string& tenant_id, const std::vector<TrackedEvent>& events,
                          store::AnalyticsBatch* batch) {
  if (log_) (void)log_->Flush();  // the answers these events follow are readable
  for (const TrackedEvent& ev : events) {
    const Role role = RoleOf(ev.type);
    const int64_t minute = Minute(ev.ts_ms), day = FloorTo(ev.ts_ms, kDayMs);
    const EventContext context = ContextOf(ev.recommendation_id, ev.context_json);
    std::optional<store::RecommendationRecord> named;
    if (!context.recommendation_id.empty() && log_) {
      auto found = log_->Find(tenant_id, context.recommendation_id);
      if (found.ok()) named = std::move(found).value();
    }
    if (role == Role::kImpression) {
      // A logged answer was counted when it was served.
      if (!named) batch->counters[{minute, "shown_events", "widget", "", ev.key_id}] += 1;
      continue;
    }
    if (role == Role::kClick) {
      std::vector<store::RecommendationRecord> recent;
      if (log_ && !(named && Showed(*named, ev.item_id, ev.ts_ms, ev.windows.click_ms)) &&
          MaybeAnswered(tenant_id, ev.user_id, ev.ts_ms, ev.windows.click_ms)) {
        auto r = log_->ReadUser(tenant_id, ev.user_id, ev.ts_ms - ev.windows.click_ms, ev.ts_ms + 1, 20);
        if (r.ok()) recent = std::move(r).value();
      }
      const store::RecommendationRecord* from = ClickSource(ev, named ? &*named : nullptr, recent);
      if (!from) continue;
      const std::string& source = context.source;
      batch->counters[{minute, "clicks", from->endpoint, from->model_version, ""}] += 1;
      if (!source.empty()) batch->counters[{minute, "source_clicks", source, "", ""}] += 1;
      batch->items[{day, ev.item_id}].clicks += 1;
      batch->clicks.push_back({ev.user_id, ev.item_id, from->id, from->endpoint, from->model_version, ev.ts_ms,
                               source, from->experiment_id, from->arm});
      if (!from->experiment_id.empty()) batch->arm_users[{from->experiment_id, from->arm, ev.user_id}].clicks += 1;
      continue;
    }
    // A cart or a purchase: the user's click on the item within the window,
    // among the clicks of this batch first (newest first), then the stored ones.
    std::optional<store::AttributedClick> click;
    if (named && Showed(*named, ev.item_id, ev.ts_ms, ev.windows.conversion_ms)) {
      click = store::AttributedClick{ev.user_id,   ev.item_id,     named->id,
                                     named->endpoint, named->model_version, ev.ts_ms,
                                     context.source,  named->experiment_id, named->arm};
    }
    for (auto it = batch->clicks.rbegin(); !click && it != batch->clicks.rend(); ++it) {
      if (it->user_id == ev.user_id && it->item_id == ev.item_id && it->ts_ms <= ev.ts_ms &&
          it->ts_ms >= ev.ts_ms - ev.windows.conversion_ms) {
        click = *it;
      }
    }
    if (!click) {
      auto found = store_->LastClick(tenant_id, ev.user_id, ev.item_id, ev.ts_ms - ev.windows.conversion_ms,
                                     ev.ts_ms);
      if (found.ok()) click = std::move(found).value();
    }
    if (!click) continue;
    if (role == Role::kCart) {
      batch->counters[{minute, "carts", click->endpoint, click->model_version, ""}] += 1;
      if (!click->source.empty()) batch->counters[{minute, "source_carts", click->source, "", ""}] += 1;
      batch->items[{day, ev.item_id}].carts += 1;
    } else {
      const double revenue = Revenue(ev);
      batch->counters[{minute, "orders", click->endpoint, click->model_version, ""}] += 1;
      batch->counters[{minute, "revenue", click->endpoint, click->model_version, ""}] += revenue;
      if (!click->source.empty()) {
        batch->counters[{minute, "source_orders", click->source, "", ""}] += 1;
        batch->counters[{minute, "source_revenue", click->source, "", ""}] += revenue;
      }
      store::ItemCounts& item = batch->items[{day, ev.item_id}];
      item.purchases += 1;
      item.revenue += revenue;
      if (!click->experiment_id.empty()) {
        store::ArmUserCounts& arm = batch->arm_users[{click->experiment_id, click->arm, ev.user_id}];
        arm.orders += 1;
        arm.revenue += revenue;
      }
    }
  }
}

Analytics::RecentUsers& Analytics::Recent(const std::string& tenant_id) {
  auto it = recent_.find(tenant_id);
  if (it != recent_.end()) return it->second;
  RecentUsers& r = recent_[tenant_id];
  const int64_t now = clock_->NowMillis();
  r.generation_ms = now;
  r.since_ms = now;
  r.refreshed_ms = now;
  // Seeded from the log: the users answered in the last day, before this
  // process or since its last idle close. Asked from a minute inside the day
  // (kSeedInsideMs): the whole day would start a few milliseconds before what
  // the log's index covers when this call fills it, and the log would scan
  // its table's day instead (0.5 s for 1.3M answers through Python's sqlite3,
  // at every start and every reopening of a busy tenant). A click whose window starts
  // in that minute is looked up in the log (MaybeAnswered).
  if (log_ && log_->Flush().ok()) {
    const int64_t from = now - kDayMs + kSeedInsideMs;
    if (auto users = log_->UsersSince(tenant_id, from, kRecentUsersMax + 1); users.ok()) {
      if (users->size() > kRecentUsersMax) {
        r.full = true;
      } else {
        for (const auto& u : *users) r.current.insert(std::hash<std::string>()(u));
      }
      r.since_ms = from;
    }
  }
  return r;
}

bool Analytics::MaybeAnswered(const std::string& tenant_id, const std::string& user_id, int64_t ts_ms,
                              int64_t window_ms) {
  RecentUsers& r = Recent(tenant_id);
  if (options_.shared_log && r.refreshed_flush != flushes_ && !r.full) {
    // Answers other nodes logged since the last look (this flush's first click).
    r.refreshed_flush = flushes_;
    const int64_t now = clock_->NowMillis();
    auto users = log_->UsersSince(tenant_id, r.refreshed_ms - kSharedLogMarginMs, kRecentUsersMax + 1);
    if (users.ok()) {
      r.refreshed_ms = now;
      for (const auto& u : *users) r.current.insert(std::hash<std::string>()(u));
      if (r.current.size() > kRecentUsersMax) {
        r.full = true;
        r.current.clear();
      }
    }
  }
  if (r.full || ts_ms - window_ms < r.since_ms) return true;  // not recorded (that far back)
  const uint64_t h = std::hash<std::string>()(user_id);
  return r.current.count(h) || r.previous.count(h);
}

StatusOr<std::vector<store::CounterRow>> Analytics::Rows(const std::string& tenant_id, int64_t from_ms,
                                                         int64_t to_ms, const std::vector<std::string>& metrics) {
  using Grain = store::AnalyticsStore::Grain;
  auto ceil_to = [](int64_t t, int64_t step) { return FloorTo(t + step - 1, step); };
  const bool minutes = from_ms >= MinutesKeptSince();
  const int64_t from = FloorTo(from_ms, minutes ? kMinuteMs : kHourMs);
  // [from, h1) minutes, [h1, d1) hours, [d1, d2) days, [d2, h2) hours, [h2, to) minutes.
  const int64_t h1 = minutes ? std::min(ceil_to(from, kHourMs), to_ms) : from;
  const int64_t h2 = minutes ? std::max(FloorTo(to_ms, kHourMs), h1) : to_ms;
  int64_t d1 = ceil_to(h1, kDayMs), d2 = FloorTo(h2, kDayMs);
  if (d1 >= d2) d1 = d2 = h2;
  std::vector<store::CounterRow> rows;
  for (const auto& [grain, a, b] : {std::tuple{Grain::kMinute, from, h1}, std::tuple{Grain::kHour, h1, d1},
                                    std::tuple{Grain::kDay, d1, d2}, std::tuple{Grain::kHour, d2, h2},
                                    std::tuple{Grain::kMinute, h2, to_ms}}) {
    if (a >= b || (grain == Grain::kMinute && !minutes)) continue;
    ASSIGN_OR_RETURN(auto part, store_->Counters(tenant_id, grain, a, b, metrics));
    if (rows.empty()) {
      rows = std::move(part);
    } else {
      rows.insert(rows.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
  }
  return rows;
}

int64_t Analytics::MinutesKeptSince() const {
  // (pruned hourly: a margin of an hour)
  return clock_->NowMillis() - options_.minute_retention_ms + kHourMs;
}

StatusOr<Report> Analytics::Summarize(const std::string& tenant_id, int64_t from_ms, int64_t to_ms) {
  ASSIGN_OR_RETURN(auto rows, Rows(tenant_id, from_ms, to_ms, {}));
  return analytics::Summarize(rows);
}

StatusOr<std::map<std::string, store::ArmSums>> Analytics::ExperimentArms(const std::string& tenant_id,
                                                                          const std::string& experiment_id) {
  return store_->ExperimentArms(tenant_id, experiment_id);
}

StatusOr<std::map<std::pair<int64_t, std::string>, UsageDay>> Analytics::UsageOf(const std::string& tenant_id,
                                                                                 int64_t from_ms, int64_t to_ms) {
  ASSIGN_OR_RETURN(auto rows, Rows(tenant_id, from_ms, to_ms,
                                   {"calls", "served", "events_tracked", "rows_imported", "training_seconds",
                                    "storage_bytes"}));
  return analytics::Usage(rows);
}

StatusOr<std::map<int64_t, Bucket>> Analytics::Series(const std::string& tenant_id, int64_t from_ms,
                                                      int64_t to_ms, int64_t interval_ms,
                                                      const std::vector<std::string>& metrics) {
  if (interval_ms >= kDayMs) {
    ASSIGN_OR_RETURN(auto rows, Rows(tenant_id, from_ms, to_ms, metrics));
    return analytics::Series(rows, interval_ms);
  }
  const auto grain = interval_ms >= kHourMs ? store::AnalyticsStore::Grain::kHour
                                            : store::AnalyticsStore::Grain::kMinute;
  if (grain == store::AnalyticsStore::Grain::kMinute && from_ms < MinutesKeptSince()) {
    return Status::Unprocessable("counts by the minute are kept for the last " +
                                       std::to_string(options_.minute_retention_ms / kHourMs - 1) +
                                       " hours: ask for a later start or a coarser interval",
                                   {{"parameter", "interval"}});
  }
  ASSIGN_OR_RETURN(auto rows, store_->Counters(tenant_id, grain, FloorTo(from_ms, interval_ms), to_ms, metrics));
  return analytics::Series(rows, interval_ms);
}

StatusOr<std::vector<std::pair<std::string, store::ItemCounts>>> Analytics::TopItems(
    const std::string& tenant_id, int64_t from_ms, int64_t to_ms, int limit) {
  const int64_t from_day = FloorTo(from_ms, kDayMs);
  // Days before today no longer change (what is counted lands on its own
  // day), once the last flushes of the day before are written: until then
  // it is read as today is.
  const int64_t today = FloorTo(clock_->NowMillis() - kDaySettleMs, kDayMs);
  const int64_t past_end = std::min(today, FloorTo(to_ms + kDayMs - 1, kDayMs));
  std::unordered_map<std::string, store::ItemCounts> sums;
  if (from_day < past_end) {
    std::shared_ptr<const ItemSums> past;
    {
      std::lock_guard lock(past_mu_);
      auto it = past_items_.find(tenant_id);
      if (it != past_items_.end() && it->second.from_day == from_day && it->second.to_day == past_end) {
        past = it->second.items;
        it->second.used = ++past_clock_;
      }
    }
    if (!past) {
      ASSIGN_OR_RETURN(auto read, PastItemSums(tenant_id, from_day, past_end));
      past = std::make_shared<const ItemSums>(std::move(read));
      std::lock_guard lock(past_mu_);
      past_items_.erase(tenant_id);
      // Within both bounds (tenants, and items over all of them), least recently used out first.
      auto kept = [&] {
        size_t n = 0;
        for (const auto& [t, p] : past_items_) n += p.items->size();
        return n;
      };
      while (!past_items_.empty() &&
             (past_items_.size() >= kPastItemsKept || kept() + past->size() > kPastItemsMax)) {
        auto oldest = past_items_.begin();
        for (auto it = past_items_.begin(); it != past_items_.end(); ++it) {
          if (it->second.used < oldest->second.used) oldest = it;
        }
        past_items_.erase(oldest);
      }
      if (past->size() <= kPastItemsMax) past_items_[tenant_id] = PastItems{from_day, past_end, past, ++past_clock_};
    }
    sums.reserve(past->size() * 2);
    for (const auto& [item, c] : *past) sums[item].Add(c);
  }
  if (std::max(past_end, from_day) < to_ms) {
    ASSIGN_OR_RETURN(auto recent, store_->TopItems(tenant_id, std::max(past_end, from_day), to_ms, INT32_MAX));
    for (auto& [item, c] : recent) sums[item].Add(c);
  }
  std::vector<std::pair<std::string, store::ItemCounts>> out(sums.begin(), sums.end());
  const size_t n = std::min(out.size(), static_cast<size_t>(std::max(limit, 0)));
  std::partial_sort(out.begin(), out.begin() + n, out.end(), [](const auto& a, const auto& b) {
    return a.second.impressions != b.second.impressions ? a.second.impressions > b.second.impressions
                                                        : a.first < b.first;
  });
  out.resize(n);
  return out;
}

StatusOr<Analytics::ItemSums> Analytics::PastItemSums(const std::string& tenant_id, int64_t from_day,
                                                      int64_t to_day) {
  using Window = store::AnalyticsStore::ItemWindow;
  const int64_t days = (to_day - from_day) / kDayMs;
  auto kept = store_->KeptItemWindow(tenant_id, days);
  std::optional<Window> window;
  if (kept.ok()) window = std::move(kept).value();
  if (window && window->to_day_ms == to_day) return std::move(window->items);
  // A kept run ending earlier, overlapping: slid forward by the days that
  // entered the window and out of those that left it (a day a day reads two
  // days' items, not the whole run).
  const bool slide = window && window->to_day_ms < to_day && to_day - window->to_day_ms <= days * kDayMs / 2;
  const bool newer = window && window->to_day_ms > to_day;  // stays kept (an old period was asked for)
  ItemSums out;
  if (slide) {
    std::unordered_map<std::string, store::ItemCounts> sums;
    sums.reserve(window->items.size() * 2);
    for (auto& [item, c] : window->items) sums.emplace(std::move(item), c);
    ASSIGN_OR_RETURN(auto entered, store_->TopItems(tenant_id, window->to_day_ms, to_day, INT32_MAX));
    ASSIGN_OR_RETURN(auto left, store_->TopItems(tenant_id, window->from_day_ms, from_day, INT32_MAX));
    for (const auto& [item, c] : entered) sums[item].Add(c);
    for (const auto& [item, c] : left) {
      store::ItemCounts& s = sums[item];
      s.Add({-c.impressions, -c.clicks, -c.carts, -c.purchases, -c.revenue});
    }
    out.reserve(sums.size());
    for (auto& [item, c] : sums) {
      // An item no longer shown in the window (what is left is rounding).
      constexpr double kNone = 1e-6;
      if (std::abs(c.impressions) < kNone && std::abs(c.clicks) < kNone && std::abs(c.carts) < kNone &&
          std::abs(c.purchases) < kNone && std::abs(c.revenue) < kNone) {
        continue;
      }
      out.emplace_back(item, c);
    }
  } else {
    ASSIGN_OR_RETURN(out, store_->TopItems(tenant_id, from_day, to_day, INT32_MAX));
  }
  if (!newer) {
    // Kept for the next start and the next day, written by the next flush
    // (not on this request); a failed write costs them a full read.
    std::lock_guard lock(mu_);
    to_keep_[tenant_id] = Window{from_day, to_day, out};
  }
  return out;
}

uint64_t Analytics::dropped_events() const { return dropped_events_.load(std::memory_order_relaxed); }

uint64_t Analytics::failed_batches() const {
  std::lock_guard lock(mu_);
  return failed_batches_;
}

}  // namespace embedrec::analytics
