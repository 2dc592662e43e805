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
  std::string recommendation_id;  // "rec_" + 22 characters, logged with the answer
  RecommendResult result;
  bool cached = false;
};

struct ServedSimilar {
  std::string recommendation_id;
  SimilarResult result;
};

class RecommendationService {
 public:
  // `log` may be null (nothing logged). Every pointer outlives the service.
  RecommendationService(Recommender* recommender, store::RecommendationLog* log, const Clock* clock,
                        IdSource* ids, MetricsRegistry* metrics);

  // Logged with the request's context (current_item, page, device, time_of_day).
  StatusOr<Served> Recommend(const RecommendRequest& r, const CachePolicy& cache);
  // The logged answer with this id (kNotFound when the tenant has none: an
  // unknown id, another tenant's, or one older than the log keeps).
  StatusOr<store::RecommendationRecord> Logged(const std::string& tenant_id, const std::string& id);
  // Items similar to `item_id`, logged as endpoint "similar".
  StatusOr<ServedSimilar> Similar(const std::string& tenant_id, const std::string& item_id, int count,
                                  const Filters& filters);

 private:
  // An answer kept by position in its catalog snapshot (valid while the
  // generation is the same), so a cached answer keeps neither its catalog
  // nor its model in memory.
  struct CachedItem {
    uint32_t position;
    double score;
    std::string reason;
  };
  struct Entry {
    std::vector<CachedItem> items;
    std::string model_version, algorithm;
    uint64_t profile_version = 0, catalog_generation = 0;
    int64_t expires_ms = 0;
  };
  std::optional<Entry> CacheGet(const std::string& key);
  void CachePut(const std::string& key, Entry e);
  void Log(const std::string& id, const std::string& tenant_id, const std::string& user_id,
           const char* endpoint, const std::string& model_version, const std::string& algorithm,
           std::vector<store::ShownItem> items, const std::string& context_json, bool cached);

  static constexpr size_t kMaxEntries = 100000;
  Recommender* recommender_;
  store::RecommendationLog* log_;
  const Clock* clock_;
  IdSource* ids_;
  MetricsRegistry* metrics_;
  std::mutex mu_;
  std::list<std::pair<std::string, Entry>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, Entry>>::iterator> map_;
};

}  // namespace embedrec::serving
