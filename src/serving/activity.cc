#include "serving/activity.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <optional>

#include "common/memory.h"
#include "ml/dataset.h"
#include "serving/catalog.h"
#include "serving/first_load.h"

namespace embedrec::serving {

namespace {
constexpr int64_t kDayMs = 86400000;
constexpr int64_t kTrendRebuildMs = 10 * 60 * 1000;  // re-read the store this often
}  // namespace

Activity::ContextPairs Activity::ContextFields(std::string_view context_json) {
  ContextPairs out;
  if (context_json.empty()) return out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(context_json, ec);
  if (ec || !v.is_object()) return out;
  for (const char* k : {"page", "device", "time_of_day"}) {
    if (auto* x = v.as_object().if_contains(k); x && x->is_string()) out.emplace_back(k, std::string(x->as_string()));
  }
  return out;
}

interactions::TypeWeights Activity::Weights(const std::string& tenant_id) const {
  return weights_fn_ ? weights_fn_(tenant_id) : interactions::TypeWeights();
}

namespace {
constexpr int64_t kMaxIdleMs = static_cast<int64_t>(Activity::kMaxIdleDays * kDayMs);
constexpr double kHalfLifeMs = Activity::kTrendHalfLifeDays * kDayMs;

uint64_t PairKey(std::string_view user, std::string_view item) {
  const uint64_t h = std::hash<std::string_view>()(user);
  return h ^ (std::hash<std::string_view>()(item) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}
}  // namespace

int64_t Activity::ActivityTime(TrendState& tr, int64_t ts_ms) {
  if (ts_ms >= tr.newest_ts_ms) {
    tr.activity_ms += std::min(ts_ms - tr.newest_ts_ms, kMaxIdleMs);
    tr.newest_ts_ms = ts_ms;
    return tr.activity_ms;
  }
  return tr.activity_ms - (tr.newest_ts_ms - ts_ms);  // older than the newest: by its own age
}

uint64_t Activity::NextVersion() {
  std::lock_guard lock(mu_);
  return next_version_++;
}

std::shared_ptr<Activity::TenantState> Activity::State(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  auto& s = tenants_[tenant_id];
  if (!s) s = std::make_shared<TenantState>();
  return s;
}

bool Activity::Warm(const std::string& tenant_id) {
  std::shared_ptr<TenantState> s;
  {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(tenant_id);
    if (it == tenants_.end()) return false;
    s = it->second;
  }
  return s->has_trend.load(std::memory_order_acquire);
}

void Activity::Drop(const std::string& tenant_id) {
  {
    std::lock_guard lock(mu_);
    tenants_.erase(tenant_id);
  }
  Report(tenant_id, nullptr, 0);
}

void Activity::DataChanged(const std::string& tenant_id) {
  auto t = State(tenant_id);
  {
    std::lock_guard lock(t->mu);
    t->profiles.clear();
    t->trend.reset();
    t->has_trend = false;
    t->trend_rebuilding = false;
    ++t->data_changes;
    t->profile_bytes = t->trend_bytes = 0;
    BytesToReport(*t, true);
  }
  Report(tenant_id, t.get(), 0);
}

int64_t Activity::ProfileBytes(const std::string& user_id, const UserProfile& p) {
  int64_t b = sizeof(UserProfile) + 64 + HeapBytes(user_id);  // and its map entry
  b += static_cast<int64_t>(p.recent.capacity() * sizeof(UserEvent));
  for (const auto& e : p.recent) b += HeapBytes(e.item_id) + HeapBytes(e.type);
  for (const auto* set : {&p.purchased, &p.interacted}) {
    for (const auto& id : *set) b += 64 + HeapBytes(id);  // a tree node with its string
  }
  return b;
}

int64_t Activity::TrendBytes(const TrendState& tr) {
  // Per scored item: its score entry, and its place in the ranked base and
  // in the base's score map (built on the first read).
  int64_t b = sizeof(TrendState);
  for (const auto& [id, score] : tr.score) b += 3 * (64 + HeapBytes(id));
  b += static_cast<int64_t>(tr.changed.size()) * 64 + static_cast<int64_t>(tr.pair_weight.size()) * 40;
  for (const auto& [context, counts] : tr.context_counts) b += 64 + static_cast<int64_t>(counts.size()) * 80;
  return b;
}

int64_t Activity::BytesToReport(TenantState& t, bool always) {
  // Told when it moved by a sixteenth, or by 64 KiB on large tenants.
  const int64_t bytes = t.profile_bytes + t.trend_bytes;
  const int64_t step = std::min<int64_t>(64 << 10, t.reported_bytes / 16);
  if (!always && std::abs(bytes - t.reported_bytes) <= step) return -1;
  t.reported_bytes = bytes;
  return bytes;
}

void Activity::Report(const std::string& tenant_id, const TenantState* t, int64_t bytes) {
  if (!memory_ || bytes < 0) return;
  if (t) {
    // A state dropped meanwhile (a load or build that outlived a Drop) holds
    // nothing that stays: not counted.
    std::lock_guard lock(mu_);
    auto it = tenants_.find(tenant_id);
    if (it == tenants_.end() || it->second.get() != t) return;
  }
  memory_->Set(tenant_id, TenantMemory::Part::kActivity, bytes);
}

void Activity::Apply(UserProfile& p, const UserEvent& e) {
  if (e.item_id.empty() || e.weight <= 0) return;
  p.interacted.insert(e.item_id);
  if (interactions::TypeWeights::IsPurchase(e.type)) p.purchased.insert(e.item_id);
  // In time order, after the events of its own time (as a stable sort of
  // the list with it appended would place it; the list is in order): a
  // profile read from the store applies up to 4 × kRecent events, and a sort
  // per event was 12 % of a PostgreSQL node's first pass over its users.
  const auto at = std::upper_bound(p.recent.begin(), p.recent.end(), e.ts_ms,
                                   [](int64_t ts, const UserEvent& x) { return ts < x.ts_ms; });
  p.recent.insert(at, e);
  if (p.recent.size() > kRecent) p.recent.erase(p.recent.begin(), p.recent.end() - kRecent);
}

StatusOr<std::shared_ptr<const UserProfile>> Activity::Profile(const std::string& tenant_id,
                                                               store::TenantStore& store,
                                                               const std::string& user_id) {
  auto t = State(tenant_id);
  {
    std::lock_guard lock(t->mu);
    auto it = t->profiles.find(user_id);
    if (it != t->profiles.end()) return it->second;
  }
  auto p = std::make_shared<UserProfile>();
  const interactions::TypeWeights weights = Weights(tenant_id);
  // Exclusions from the whole history; the fold-in from the newest events.
  ASSIGN_OR_RETURN(auto state, store.LoadUserState(user_id, 4 * kRecent));
  for (const auto& it : state.item_types) {
    if (weights.Positive(it.type)) p->interacted.insert(it.item_id);
    if (interactions::TypeWeights::IsPurchase(it.type)) p->purchased.insert(it.item_id);
  }
  for (auto it = state.recent.rbegin(); it != state.recent.rend(); ++it) {  // oldest first
    Apply(*p, {it->item_id, it->type, it->ts_ms, weights.Weight(it->type), 0});
  }
  p->version = NextVersion();
  const int64_t bytes = ProfileBytes(user_id, *p);
  std::shared_ptr<const UserProfile> kept;
  int64_t report = -1;
  {
    std::lock_guard lock(t->mu);
    if (t->profiles.size() >= kMaxProfiles) {  // bounded
      t->profile_bytes -= ProfileBytes(t->profiles.begin()->first, *t->profiles.begin()->second);
      t->profiles.erase(t->profiles.begin());
    }
    auto [it, fresh] = t->profiles.emplace(user_id, std::move(p));
    if (fresh) t->profile_bytes += bytes;
    kept = it->second;  // a concurrent load may have won: both read the same store
    report = BytesToReport(*t, false);
  }
  Report(tenant_id, t.get(), report);
  return kept;
}

StatusOr<std::shared_ptr<const TrendingSnapshot>> Activity::Trending(
    const std::string& tenant_id, const std::shared_ptr<store::TenantStore>& store) {
  auto t = State(tenant_id);
  const int64_t now = clock_->NowMillis();
  uint64_t changes = 0;
  std::optional<FirstLoad> first;  // when this request makes the first build
  {
    std::unique_lock lock(t->mu);
    const bool expired = t->trend && now - t->trend->built_at_ms >= kTrendRebuildMs;
    auto current = [&] {
      if (!t->trend->snapshot) t->trend->snapshot = Snapshot(*t->trend);
      return t->trend->snapshot;
    };
    if (t->trend && (!expired || t->trend_rebuilding)) return current();
    if (!t->trend && t->first_build.valid()) {  // another request is building it: wait for that one
      auto building = t->first_build;
      lock.unlock();
      building.wait();
      return Trending(tenant_id, store);
    }
    changes = t->data_changes;
    if (expired) {
      t->trend_rebuilding = true;  // one rebuild; meanwhile everyone uses the expired one
      if (background_) {
        background_(tenant_id, [this, t, tenant_id, store, changes, now] {
          (void)Rebuild(*t, tenant_id, *store, changes, now, /*background=*/true, /*first=*/false);  // failed: tried again
        });
        return current();
      }
    } else {
      t->first_build = first.emplace().done();
    }
  }
  const Status built = Rebuild(*t, tenant_id, *store, changes, now, /*background=*/false, first.has_value());
  if (first) {
    std::lock_guard lock(t->mu);
    t->first_build = {};
  }
  RETURN_IF_ERROR(built);
  return Trending(tenant_id, store);
}

Status Activity::Rebuild(TenantState& t, const std::string& tenant_id, store::TenantStore& store,
                         uint64_t changes, int64_t now, bool background, bool first) {
  const interactions::TypeWeights weights = Weights(tenant_id);
  if (first) {
    if (auto loaded = LoadTrend(store, weights); loaded.ok()) {
      ++trend_loads_;
      // Rebuilt on the usual schedule from when it was built: in the
      // background at once when that was 10 minutes ago or more.
      (*loaded)->built_at_ms = std::min((*loaded)->built_at_ms, now);
      int64_t report = -1;
      {
        std::lock_guard lock(t.mu);
        if (Install(t, std::move(*loaded), changes, now, background)) report = BytesToReport(t, true);
      }
      Report(tenant_id, &t, report);
      return Status::Ok();
    }
  }
  auto position = store.LatestEventSeq();  // read first: the build reflects at least this much
  const auto started = std::chrono::steady_clock::now();
  auto rebuilt = BuildTrend(store, weights, now, trend_min_users_);
  ++trend_builds_;
  std::string persist;
  if (rebuilt.ok() && position.ok() &&
      std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(persist_after_ms_)) {
    persist = EncodeTrend(**rebuilt, weights);
  }
  {
    int64_t report = -1;
    bool current = false;
    {
      std::lock_guard lock(t.mu);
      if (t.data_changes == changes) t.trend_rebuilding = false;
      if (!rebuilt.ok()) return rebuilt.status();
      if (Install(t, std::move(*rebuilt), changes, now, background)) {
        report = BytesToReport(t, true);
        current = t.data_changes == changes;
      }
    }
    Report(tenant_id, &t, report);
    if (!current) return Status::Ok();
  }
  // A failed write only costs the next first build a full scan.
  if (!persist.empty()) (void)SaveTrend(store, *position, persist, now);
  return Status::Ok();
}

bool Activity::Install(TenantState& t, std::unique_ptr<TrendState> state, uint64_t changes, int64_t now,
                       bool background) {
  if (t.data_changes != changes) {
    // Read before an upload changed the history: dropped when built in the
    // background (the next request builds afresh); else kept for this
    // request, but expired.
    if (background) return false;
    state->built_at_ms = now - kTrendRebuildMs;
  }
  t.trend_bytes = TrendBytes(*state);
  t.context_counts = std::move(state->context_counts);
  t.trend = std::move(state);
  t.has_trend = true;
  return true;
}

StatusOr<std::unique_ptr<Activity::TrendState>> Activity::BuildTrend(store::TenantStore& store,
                                                                      const interactions::TypeWeights& weights,
                                                                      int64_t now, size_t min_users) {
  // Live items by store index: a slot each (its id and category number).
  std::vector<std::string> ids;
  std::vector<int32_t> slot_category;
  std::vector<std::string> categories;
  std::unordered_map<std::string, int32_t> category_number;
  std::vector<int32_t> slot_of;  // by store index (dense, from 0); -1: not a live item
  RETURN_IF_ERROR(ForEachStoredItem(store, [&](int64_t idx, store::ItemRecord&& item) {
    if (idx < 0 || idx >= INT32_MAX) return;
    auto [c, fresh] = category_number.try_emplace(item.category, static_cast<int32_t>(categories.size()));
    if (fresh) categories.push_back(item.category);
    if (static_cast<size_t>(idx) >= slot_of.size()) slot_of.resize(static_cast<size_t>(idx) + 1, -1);
    slot_of[idx] = static_cast<int32_t>(ids.size());
    ids.push_back(std::move(item.item_id));
    slot_category.push_back(c->second);
  }));
  auto state = std::make_unique<TrendState>();
  // Rows come in (user, item, type, time) order: a pair's events are
  // adjacent, and the last row of each (pair, type) is its newest, the only
  // one that can be the pair's strongest (decay is monotonic in time).
  struct Row {
    int64_t ts;
    uint32_t slot;  // kPairStart set on a pair's first row
    float w;
  };
  constexpr uint32_t kPairStart = 1u << 31;
  std::vector<Row> rows;
  std::vector<double> category_events(categories.size(), 0);
  std::vector<int64_t> user_newest;  // by store index: the user's newest counted event (INT64_MIN: none)
  constexpr int64_t kMaxUserIndex = int64_t{1} << 28;
  // Activity time needs the gaps between consecutive distinct timestamps;
  // only gaps longer than kMaxIdleMs matter, and those can only fall
  // between days that hold events: each day's first and last time.
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> days;
  int64_t last_user = -1, last_item = -1, day_key = INT64_MIN;
  std::string last_type;
  float last_weight = 0;
  std::pair<int64_t, int64_t>* day = nullptr;
  RETURN_IF_ERROR(store.ScanInteractions([&](const store::TenantStore::InteractionRow& r) {
    const bool type_changed = r.type != last_type || last_type.empty();
    if (type_changed) {
      last_type = r.type, last_weight = weights.Weight(r.type);
      if (interactions::TypeWeights::IsPurchase(r.type)) state->has_purchases = true;
    }
    if (last_weight <= 0 || r.item_idx < 0 || static_cast<uint64_t>(r.item_idx) >= slot_of.size() ||
        slot_of[r.item_idx] < 0) {
      return;
    }
    const auto slot = static_cast<uint32_t>(slot_of[r.item_idx]);
    const int64_t ts = std::min(r.ts_ms, now);
    if (r.user_idx >= 0 && r.user_idx < kMaxUserIndex) {
      if (static_cast<size_t>(r.user_idx) >= user_newest.size()) {
        user_newest.resize(static_cast<size_t>(r.user_idx) + 1, INT64_MIN);
      }
      user_newest[r.user_idx] = std::max(user_newest[r.user_idx], ts);
    }
    const bool start = r.user_idx != last_user || r.item_idx != last_item;
    if (!start && !type_changed && !rows.empty()) {
      rows.back().ts = ts;  // a newer event of the same (pair, type)
    } else {
      rows.push_back({ts, start ? slot | kPairStart : slot, last_weight});
    }
    last_user = r.user_idx, last_item = r.item_idx;
    const int64_t d = ts >= 0 ? ts / kMaxIdleMs : -1 - (-1 - ts) / kMaxIdleMs;
    if (d != day_key) {
      day = &days.try_emplace(d, ts, ts).first->second;
      day_key = d;
    }
    day->first = std::min(day->first, ts), day->second = std::max(day->second, ts);
    if (r.context_json.empty()) {
      category_events[slot_category[slot]] += 1;
    } else {
      CountContext(state->context_counts, categories[slot_category[slot]], ContextFields(r.context_json));
    }
  }));
  for (size_t c = 0; c < categories.size(); ++c) {
    if (category_events[c] > 0 && !categories[c].empty()) state->context_counts[""][categories[c]] += category_events[c];
  }
  // Activity time, by the rule Record follows for tracked events
  // (ActivityTime): the time after the first event less, for every gap
  // between consecutive times longer than kMaxIdleMs, its excess.
  std::vector<std::pair<int64_t, int64_t>> spans;  // days' (first, last), oldest first
  spans.reserve(days.size());
  for (const auto& [d, span] : days) spans.push_back(span);
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<int64_t, int64_t>> skipped;  // (end of a long gap, idle time skipped up to it)
  int64_t idle = 0;
  for (size_t k = 1; k < spans.size(); ++k) {
    const int64_t gap = spans[k].first - spans[k - 1].second;
    if (gap > kMaxIdleMs) skipped.emplace_back(spans[k].first, idle += gap - kMaxIdleMs);
  }
  auto activity = [&](int64_t ts) {
    auto it = std::upper_bound(skipped.begin(), skipped.end(), std::make_pair(ts, INT64_MAX));
    return it == skipped.begin() ? ts : ts - std::prev(it)->second;
  };
  if (!spans.empty()) {
    state->newest_ts_ms = spans.back().second;
    state->activity_ms = activity(state->newest_ts_ms);
  }
  state->reference_ms = state->activity_ms;
  // The half-life reaches back at least to the newest event of the
  // min_users-th most recent user (every user when fewer).
  std::erase(user_newest, INT64_MIN);
  if (!user_newest.empty() && min_users > 0) {
    const size_t k = std::min(min_users, user_newest.size()) - 1;
    std::nth_element(user_newest.begin(), user_newest.begin() + static_cast<std::ptrdiff_t>(k), user_newest.end(),
                     std::greater<>());
    const double span = static_cast<double>(state->reference_ms - activity(user_newest[k]));
    state->half_life_ms = std::max(kHalfLifeMs, span);
  }
  const double half_life_ms = state->half_life_ms;
  // Each pair's strongest decayed event, summed per item.
  std::vector<double> score(ids.size(), -1);  // -1: nobody touched the item
  double best = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const double w =
        rows[k].w * std::exp2(static_cast<double>(activity(rows[k].ts) - state->reference_ms) / half_life_ms);
    best = rows[k].slot & kPairStart ? w : std::max(best, w);
    if (k + 1 == rows.size() || rows[k + 1].slot & kPairStart) {
      double& s = score[rows[k].slot & ~kPairStart];
      s = std::max(s, 0.0) + best;
    }
  }
  for (size_t s = 0; s < ids.size(); ++s) {
    if (score[s] >= 0) state->score.emplace(std::move(ids[s]), score[s]), state->total += score[s];
  }
  state->built_at_ms = now;
  return state;
}

void Activity::Record(const std::string& tenant_id, const store::TrackEvent& ev,
                      const std::string& category,
                      const std::vector<std::pair<std::string, std::string>>& context,
                      std::optional<double> weight) {
  auto t = State(tenant_id);
  const uint64_t version = NextVersion();
  const double w = weight ? *weight : Weights(tenant_id).Weight(ev.type);
  const int64_t now = clock_->NowMillis();
  int64_t report = -1;
  {
    std::lock_guard lock(t->mu);
    RecordLocked(*t, ev, category, context, w, version, now);
    report = BytesToReport(*t, false);
  }
  Report(tenant_id, t.get(), report);
}

void Activity::RecordLocked(TenantState& t, const store::TrackEvent& ev, const std::string& category,
                            const ContextPairs& context, double w, uint64_t version, int64_t now) {
  if (auto it = t.profiles.find(ev.user_id); it != t.profiles.end()) {
    auto p = std::make_shared<UserProfile>(*it->second);  // copy on write: readers keep theirs
    Apply(*p, {ev.item_id, ev.type, ev.ts_ms, static_cast<float>(w), now});
    p->version = version;
    t.profile_bytes += ProfileBytes(ev.user_id, *p) - ProfileBytes(ev.user_id, *it->second);
    it->second = std::move(p);
  }
  if (ev.item_id.empty() || w <= 0) return;
  if (t.trend) {
    auto& tr = *t.trend;
    if (interactions::TypeWeights::IsPurchase(ev.type) && !tr.has_purchases) {
      tr.has_purchases = true;
      tr.snapshot.reset();
    }
    // Newer events weigh more (2^(age / half-life) after the reference)
    // instead of every older score shrinking: one update per event, not one
    // per item; only the ratios matter. Re-based, rarely, before the
    // weights grow large.
    double halvings =
        static_cast<double>(ActivityTime(tr, std::min(ev.ts_ms, now)) - tr.reference_ms) / tr.half_life_ms;
    if (halvings > 20) {
      const double f = std::exp2(-halvings);
      for (auto& [id, s] : tr.score) s *= f;
      tr.total *= f;
      for (auto& [pair, s] : tr.pair_weight) s *= f;
      tr.reference_ms = tr.activity_ms;
      tr.base.reset();  // every score moved: re-rank on the next read
      tr.changed.clear();
      halvings = 0;
    }
    // The pair counts its strongest event only (bounded: cleared past a size; rebuilt with the trend).
    if (tr.pair_weight.size() > 1000000) {
      t.trend_bytes -= static_cast<int64_t>(tr.pair_weight.size()) * 40;
      tr.pair_weight.clear();
    }
    const size_t pairs = tr.pair_weight.size();
    double& counted = tr.pair_weight[PairKey(ev.user_id, ev.item_id)];
    if (tr.pair_weight.size() > pairs) t.trend_bytes += 40;
    const double add = w * std::exp2(halvings) - counted;
    if (add > 0) {
      counted += add;
      tr.total += add;
      const size_t items = tr.score.size();
      const double now_score = tr.score[ev.item_id] += add;
      if (tr.score.size() > items) t.trend_bytes += 3 * (64 + HeapBytes(ev.item_id));
      tr.changed[ev.item_id] = now_score;
      tr.snapshot.reset();  // rebuilt on the next read: popularity moves at once
    }
  }
  CountContext(t.context_counts, category, context);
}

void Activity::CountContext(ContextCounts& counts, const std::string& category,
                            const ContextPairs& context) {
  if (category.empty()) return;
  counts[""][category] += 1;
  for (const auto& [k, v] : context) counts[k + "=" + v][category] += 1;
}

std::shared_ptr<const TrendingSnapshot> Activity::Snapshot(TrendState& tr) {
  auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  // Re-rank the base when the overlay would cost more than sqrt(n) sorting work per event.
  const size_t max_changed = std::max<size_t>(256, 4 * static_cast<size_t>(std::sqrt(tr.score.size())));
  if (!tr.base || tr.changed.size() > max_changed) {
    auto base = std::make_shared<TrendingSnapshot::Base>();
    base->score = tr.score;
    base->ranked.assign(tr.score.begin(), tr.score.end());
    std::sort(base->ranked.begin(), base->ranked.end(), better);
    tr.base = std::move(base);
    tr.changed.clear();
  }
  auto snap = std::make_shared<TrendingSnapshot>();
  snap->base = tr.base;
  snap->changed_score = tr.changed;
  snap->has_purchases = tr.has_purchases;
  snap->changed.assign(tr.changed.begin(), tr.changed.end());
  std::sort(snap->changed.begin(), snap->changed.end(), better);
  snap->total_score = tr.total;
  return snap;
}

double TrendingSnapshot::Score(const std::string& item_id) const {
  if (auto it = changed_score.find(item_id); it != changed_score.end()) return it->second;
  return base ? base->Score(item_id) : 0;
}

bool TrendingSnapshot::Contains(const std::string& item_id) const {
  return changed_score.count(item_id) || (base && base->score.count(item_id));
}

void TrendingSnapshot::ForEachRanked(const std::function<bool(const std::string&, double)>& fn) const {
  static const Scored kNone;
  const Scored& b = base ? base->ranked : kNone;
  size_t i = 0, j = 0;
  while (true) {
    while (i < b.size() && changed_score.count(b[i].first)) ++i;  // stale: its score is in `changed`
    const bool has_b = i < b.size(), has_c = j < changed.size();
    if (!has_b && !has_c) return;
    const bool take_c = has_c && (!has_b || changed[j].second > b[i].second ||
                                  (changed[j].second == b[i].second && changed[j].first < b[i].first));
    const auto& [id, s] = take_c ? changed[j++] : b[i++];
    if (!fn(id, s)) return;
  }
}

TrendingSnapshot::Scored TrendingSnapshot::Top(size_t n) const {
  Scored out;
  if (n == 0) return out;
  ForEachRanked([&](const std::string& id, double s) {
    out.emplace_back(id, s);
    return out.size() < n;
  });
  return out;
}

double Activity::ContextFactor(const std::string& tenant_id,
                               const std::vector<std::pair<std::string, std::string>>& context,
                               const std::string& category) {
  if (context.empty() || category.empty()) return 1.0;
  auto t = State(tenant_id);
  std::lock_guard lock(t->mu);
  auto all = t->context_counts.find("");
  if (all == t->context_counts.end()) return 1.0;
  double total = 0;
  for (const auto& [c, n] : all->second) total += n;
  auto cat = all->second.find(category);
  const double p_global = (cat == all->second.end() ? 0.0 : cat->second) / total;
  if (p_global <= 0) return 1.0;
  // Product over the context fields of the smoothed lift of the category
  // (20 pseudo-events at the overall share), softened by a square root.
  constexpr double kPrior = 20;
  double factor = 1.0;
  for (const auto& [k, v] : context) {
    auto it = t->context_counts.find(k + "=" + v);
    if (it == t->context_counts.end()) continue;
    double n = 0;
    for (const auto& [c, x] : it->second) n += x;
    auto hit = it->second.find(category);
    const double p = ((hit == it->second.end() ? 0.0 : hit->second) + kPrior * p_global) / (n + kPrior);
    factor *= std::sqrt(p / p_global);
  }
  return std::clamp(factor, 0.5, 2.0);
}

}  // namespace embedrec::serving
