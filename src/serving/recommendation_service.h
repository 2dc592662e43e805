// What the API calls for a page's recommendations: the ranking
// (recommender.h), a result cache in front of it, the recommendation_id each
// answer carries, and the recommendation log (store/recommendation_log.h)
// every answer is appended to, for analytics and attribution.
//
//   State (store, catalog, profile, trending, the live version for the user)
//     → cache hit when the entry was computed from that same model version,
//       profile version and catalog generation, within its TTL
//     → else rank, and keep the answer
//     → a new recommendation_id; the answer appended to the log
//
// Thread safety: safe for concurrent use.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/id_source.h"
#include "common/metrics.h"
#include "serving/recommender.h"
#include "store/recommendation_log.h"

namespace embedrec::serving {

struct CachePolicy {
  int64_t ttl_seconds = 0;  // 0: no caching
  // Names everything of the request that shapes the answer besides the
  // tenant and the user (the API passes the request's JSON body).
  std::string request_key;
};

// Scores (and similarities) come rounded to six decimals, as answered and logged.
struct Served {
  std::string recommendation_id;  // "rec_" + 22 characters (the time, then random), logged with the answer
  // The answer: on a cache hit with a renderer, only its model_version and
  // algorithm (the items are in `rendered`).
  RecommendResult result;
  bool cached = false;
  // What the caller's renderer made of this answer (kept with a cached one
  // and reused by its hits); null without a renderer.
  std::shared_ptr<const std::string> rendered;
  std::vector<std::string> shown_items;  // the item ids in the order shown (cached answers too)
  // The request's experiment arm, when its version answered (logged with it).
  std::string experiment_id, arm;
};

// Turns an answer into the caller's text (the API's JSON), once per cached answer.
using Renderer = std::function<std::string(const RecommendResult&)>;

struct ServedSimilar {
  std::string recommendation_id;
  SimilarResult result;
  std::vector<std::string> shown_items;  // the item ids in the order shown
};

class RecommendationService {
 public:
  // `log` may be null (nothing logged). Every pointer outlives the service.
  RecommendationService(Recommender* recommender, store::RecommendationLog* log, const Clock* clock,
                        IdSource* ids, MetricsRegistry* metrics);

  // Logged with the request's context (current_item, page, device, time_of_day).
  // With `render`, a cache hit is answered by the text rendered when it was
  // computed (the request key must then cover what the renderer reads).
  StatusOr<Served> Recommend(const RecommendRequest& r, const CachePolicy& cache,
                             const Renderer& render = nullptr);
  // The logged answer with this id (kNotFound when the tenant has none: an
  // unknown id, another tenant's, or one older than the log keeps).
  StatusOr<store::RecommendationRecord> Logged(const std::string& tenant_id, const std::string& id);
  // Items similar to `item_id`, logged as endpoint "similar".
  StatusOr<ServedSimilar> Similar(const std::string& tenant_id, const std::string& item_id, int count,
                                  const Filters& filters);
  // Trending items, logged as endpoint "popular" (with the category asked for as context).
  StatusOr<Served> Popular(const std::string& tenant_id, int count, const Filters& filters);

 private:
  // An answer kept by position in its catalog snapshot (valid while the
  // generation is the same), so a cached answer keeps neither its catalog
  // nor its model in memory; with its rendered text, and what the log needs.
  struct CachedItem {
    uint32_t position;
    double score;
    std::string reason;
  };
  struct Entry {
    std::vector<CachedItem> items;
    std::vector<store::ShownItem> shown;
    std::shared_ptr<const std::string> rendered;
    std::string model_version, algorithm;
    uint64_t profile_version = 0, catalog_generation = 0;
    int64_t expires_ms = 0;
  };
  std::shared_ptr<const Entry> CacheGet(const std::string& key);
  void CachePut(const std::string& key, std::shared_ptr<const Entry> e);
  // Appends to the log (callers check there is one).
  void Log(const std::string& id, int64_t ts_ms, const std::string& tenant_id, const std::string& user_id,
           const char* endpoint, const std::string& model_version, const std::string& algorithm,
           std::vector<store::ShownItem> items, std::string context_json, bool cached,
           const std::string& experiment_id = "", const std::string& arm = "");

  static constexpr size_t kMaxEntries = 100000;
  Recommender* recommender_;
  store::RecommendationLog* log_;
  const Clock* clock_;
  IdSource* ids_;
  MetricsRegistry* metrics_;
  std::mutex mu_;
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const Entry>>>;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> map_;
};

}  // namespace embedrec::serving
