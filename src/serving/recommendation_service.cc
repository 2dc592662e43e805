#include "serving/recommendation_service.h"

#include <algorithm>
#include <cmath>

#include "common/json_text.h"

namespace embedrec::serving {

RecommendationService::RecommendationService(Recommender* recommender, store::RecommendationLog* log,
                                             const Clock* clock, IdSource* ids, MetricsRegistry* metrics)
    : recommender_(recommender), log_(log), clock_(clock), ids_(ids), metrics_(metrics) {
  metrics_->Declare("embedrec_recommendation_cache_total", MetricsRegistry::Type::kCounter,
                    "Recommendation answers by result cache outcome (hit, miss)");
}

std::shared_ptr<const RecommendationService::Entry> RecommendationService::CacheGet(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  return it->second->second;
}

void RecommendationService::CachePut(const std::string& key, std::shared_ptr<const Entry> e) {
  std::lock_guard lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    lru_.erase(it->second);
    map_.erase(it);
  }
  lru_.emplace_front(key, std::move(e));
  map_[key] = lru_.begin();
  if (map_.size() > kMaxEntries) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void RecommendationService::Log(const std::string& id, int64_t ts_ms, const std::string& tenant_id,
                                const std::string& user_id, const char* endpoint,
                                const std::string& model_version, const std::string& algorithm,
                                std::vector<store::ShownItem> items, std::string context_json, bool cached,
                                const std::string& experiment_id, const std::string& arm) {
  store::RecommendationRecord rec;
  rec.id = id;
  rec.tenant_id = tenant_id;
  rec.user_id = user_id;
  rec.endpoint = endpoint;
  rec.model_version = model_version;
  rec.algorithm = algorithm;
  rec.items = std::move(items);
  rec.context_json = std::move(context_json);
  rec.ts_ms = ts_ms;
  rec.cached = cached;
  rec.experiment_id = experiment_id;
  rec.arm = arm;
  log_->Append(std::move(rec));
}

namespace {
// "rec_" + the time in 7 base62 digits (sortable, to the year 2081) + the
// id source's characters: ids of one tenant's answers arrive nearly in
// order, so the log's index on them grows at its end (with random ids the
// log's writer took 28 % of the process's CPU samples at ~25k answers/s,
// about 12 % with these; docs/benchmarks.md).
std::string TimedId(IdSource* ids, int64_t now_ms) {
  static constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  char time[7];
  uint64_t t = static_cast<uint64_t>(std::max<int64_t>(now_ms, 0));
  for (int i = 6; i >= 0; --i) {
    time[i] = kDigits[t % 62];
    t /= 62;
  }
  std::string random = ids->Next("");
  if (random.size() > 15) random.resize(15);
  return "rec_" + std::string(time, 7) + random;
}

// Scores as answered and logged: six decimals.
double Rounded(double x) { return std::round(x * 1e6) / 1e6; }

// An answer's items as logged: ids in order with `score_of` each.
template <class Items, class ScoreOf>
std::vector<store::ShownItem> ShownOf(const Items& items, ScoreOf score_of) {
  std::vector<store::ShownItem> shown;
  shown.reserve(items.size());
  for (const auto& x : items) shown.push_back({x.item->item_id, score_of(x)});
  return shown;
}

std::vector<std::string> IdsOf(const std::vector<store::ShownItem>& shown) {
  std::vector<std::string> ids;
  ids.reserve(shown.size());
  for (const auto& s : shown) ids.push_back(s.item_id);
  return ids;
}

std::string ContextJson(const RecommendRequest& r) {
  std::string out = "{";
  auto field = [&out](std::string_view k, std::string_view v) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(k, &out);
    out.push_back(':');
    AppendJsonString(v, &out);
  };
  if (!r.current_item.empty()) field("current_item", r.current_item);
  for (const auto& [k, v] : r.context) field(k, v);
  out.push_back('}');
  return out;
}
}  // namespace

StatusOr<Served> RecommendationService::Recommend(const RecommendRequest& r, const CachePolicy& cache,
                                                  const Renderer& render) {
  ASSIGN_OR_RETURN(ServingState state, recommender_->State(r));
  const std::string key = cache.ttl_seconds > 0 ? r.tenant_id + '\n' + r.user_id + '\n' + cache.request_key : "";
  const int64_t now = clock_->NowMillis();
  const std::string live_version = state.model ? state.model->version : "";
  Served out;
  std::shared_ptr<const Entry> hit;
  if (cache.ttl_seconds > 0) {
    hit = CacheGet(key);
    if (hit && !(hit->expires_ms > now && hit->profile_version == state.profile->version &&
                 hit->model_version == live_version && hit->catalog_generation == state.catalog->generation &&
                 (hit->rendered != nullptr) == (render != nullptr))) {
      hit.reset();
    }
  }
  std::vector<store::ShownItem> shown;
  if (hit) {
    out.cached = true;
    out.result.catalog = state.catalog;
    out.result.model_version = hit->model_version;
    out.result.algorithm = hit->algorithm;
    out.rendered = hit->rendered;
    if (!out.rendered) {
      out.result.items.reserve(hit->items.size());
      for (const auto& c : hit->items) out.result.items.push_back({&state.catalog->items[c.position], c.score, c.reason});
    }
    shown = hit->shown;
  } else {
    ASSIGN_OR_RETURN(out.result, recommender_->Recommend(r, state));
    for (auto& rec : out.result.items) rec.score = Rounded(rec.score);
    shown = ShownOf(out.result.items, [](const auto& rec) { return rec.score; });
    if (render) out.rendered = std::make_shared<const std::string>(render(out.result));
    if (cache.ttl_seconds > 0) {
      auto e = std::make_shared<Entry>();
      e->model_version = out.result.model_version;
      e->algorithm = out.result.algorithm;
      e->profile_version = state.profile->version;
      e->catalog_generation = state.catalog->generation;
      e->expires_ms = now + cache.ttl_seconds * 1000;
      e->rendered = out.rendered;
      e->shown = shown;
      if (!render) {
        e->items.reserve(out.result.items.size());
        for (const auto& rec : out.result.items) {
          e->items.push_back({static_cast<uint32_t>(rec.item - state.catalog->items.data()), rec.score, rec.reason});
        }
      }
      CachePut(key, std::move(e));
    }
  }
  metrics_->Inc("embedrec_recommendation_cache_total", {{"result", out.cached ? "hit" : "miss"}});
  out.shown_items = IdsOf(shown);
  out.recommendation_id = TimedId(ids_, now);
  if (!r.experiment_id.empty() && out.result.model_version == r.model_version) {
    out.experiment_id = r.experiment_id;
    out.arm = r.arm;
  }
  if (log_) {
    Log(out.recommendation_id, now, r.tenant_id, r.user_id, "recommendations", out.result.model_version,
        out.result.algorithm, std::move(shown), ContextJson(r), out.cached, out.experiment_id, out.arm);
  }
  return out;
}

StatusOr<store::RecommendationRecord> RecommendationService::Logged(const std::string& tenant_id,
                                                                   const std::string& id) {
  if (!log_) return Status::NotFound("recommendations are not logged");
  ASSIGN_OR_RETURN(auto found, log_->Find(tenant_id, id));
  if (!found) return Status::NotFound("recommendation '" + id + "' is not in the log");
  return std::move(*found);
}

StatusOr<ServedSimilar> RecommendationService::Similar(const std::string& tenant_id, const std::string& item_id,
                                                       int count, const Filters& filters) {
  ServedSimilar out;
  ASSIGN_OR_RETURN(out.result, recommender_->Similar(tenant_id, item_id, count, filters));
  for (auto& s : out.result.items) s.similarity = Rounded(s.similarity);
  const int64_t now = clock_->NowMillis();
  out.recommendation_id = TimedId(ids_, now);
  std::vector<store::ShownItem> shown = ShownOf(out.result.items, [](const auto& s) { return s.similarity; });
  out.shown_items = IdsOf(shown);
  if (!log_) return out;
  std::string context = "{\"current_item\":";
  AppendJsonString(item_id, &context);
  context += "}";
  Log(out.recommendation_id, now, tenant_id, "", "similar", out.result.model_version, out.result.algorithm,
      std::move(shown), std::move(context), false);
  return out;
}

StatusOr<Served> RecommendationService::Popular(const std::string& tenant_id, int count, const Filters& filters) {
  Served out;
  ASSIGN_OR_RETURN(out.result, recommender_->Popular(tenant_id, count, filters));
  const int64_t now = clock_->NowMillis();
  out.recommendation_id = TimedId(ids_, now);
  std::vector<store::ShownItem> shown = ShownOf(out.result.items, [](const auto& r) { return Rounded(r.score); });
  out.shown_items = IdsOf(shown);
  if (!log_) return out;
  std::string context = "{}";
  if (filters.categories.size() == 1) {
    context = "{\"category\":";
    AppendJsonString(*filters.categories.begin(), &context);
    context += "}";
  }
  Log(out.recommendation_id, now, tenant_id, "", "popular", out.result.model_version, out.result.algorithm,
      std::move(shown), std::move(context), false);
  return out;
}

}  // namespace embedrec::serving
