// Personalised recommendations, similar items and popular items, from the
// tenant's deployed model, its catalog and recent activity (serving/*.h).
//
//   user vector: the model's embedding of the user, moved toward the items
//     the user touched since the model was trained (fold-in: the weighted
//     mean of those items' embeddings, weights by interaction type and
//     recency); for a user the model does not know, the fold-in alone;
//     context.current_item adds that item's embedding (similar items).
//   candidates: nearest items by inner product, filters and exclusions
//     applied inside the search, so `count` come back whenever that many
//     match; then a deterministic context re-ranking (page, device,
//     time_of_day: category lifts learned from tracked events).
//   score: sigmoid(inner product) × context factor, in [0, 1], never
//     increasing down the list; slots the model cannot fill (new items,
//     narrow filters) are filled with trending items below the last score.
//   cold start: no model, or a user with no usable history: trending items.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "serving/activity.h"
#include "serving/background.h"
#include "serving/catalog.h"
#include "serving/category_trending.h"
#include "serving/deployed_models.h"
#include "serving/exclusion.h"
#include "serving/tenant_memory.h"
#include "store/tenant_stores.h"

namespace embedrec::serving {

struct Merchandising;  // serving/merchandising.h

struct Filters {
  std::set<std::string> categories;
  std::string brand;
  std::optional<double> price_min, price_max;
  std::set<std::string> tags_any;
  std::set<std::string> exclude_item_ids, include_item_ids;
  bool in_stock_only = false;
  // Available items only, always: unavailable items are never recommended.
  bool Matches(const CatalogItem& item) const;
};

using Context = std::vector<std::pair<std::string, std::string>>;  // page, device, time_of_day

struct RecommendRequest {
  std::string tenant_id, user_id;
  int count = 10;
  Filters filters;
  std::string current_item;  // context.current_item
  Context context;
  std::string model_version;      // empty: the live version the user is assigned to
  // Set when an experiment chose model_version for this user (logged with
  // the answer). A version that is no longer live is then not an error: the
  // user's default version answers, logged without the arm.
  std::string experiment_id, arm;
  Exclusion exclude = Exclusion::kPurchased;
  // The shop's merchandising rules (boosts, buries, pins, diversity), applied
  // after scoring for the request's context page; null: none.
  std::shared_ptr<const Merchandising> merchandising;
};

struct Recommendation {
  const CatalogItem* item = nullptr;
  double score = 0;
  std::string reason;
};

struct RecommendResult {
  std::vector<Recommendation> items;
  std::string model_version;  // "" without a model
  std::string algorithm;      // the model type, "trending" (cold user) or "popularity" (no model)
  std::shared_ptr<const CatalogSnapshot> catalog;  // keeps `items` valid
};

// What one user's recommendations depend on, read once per request (a
// result cache checks it before ranking; ranking reads popularity too).
struct ServingState {
  std::shared_ptr<store::TenantStore> store;
  std::shared_ptr<const CatalogSnapshot> catalog;
  std::shared_ptr<const UserProfile> profile;
  std::shared_ptr<const ServingModel> model;  // the live version answering; null: none
};

struct SimilarItem {
  const CatalogItem* item = nullptr;
  double similarity = 0;  // inner product over the largest possible (ServingModel::SimilarQuery), in [0, 1]
};
struct SimilarResult {
  std::vector<SimilarItem> items;
  std::string model_version, algorithm;
  std::shared_ptr<const CatalogSnapshot> catalog;
};

struct RowMap;  // a model's item rows and a catalog's positions, both ways (recommender.cc)

class Recommender {
 public:
  Recommender(DeployedModels* models, CatalogCache* catalog, Activity* activity,
              store::TenantStores* tenants)
      : models_(models), catalog_(catalog), activity_(activity), tenants_(tenants) {}

  // The state `r` is answered from: the live model version the user is
  // assigned to (DeployedModels::For), or the one `r` names — kUnprocessable
  // for a version that is not live.
  StatusOr<ServingState> State(const RecommendRequest& r);
  // Ranks for `r` from `state` (State(r)'s).
  StatusOr<RecommendResult> Recommend(const RecommendRequest& r, const ServingState& state);
  StatusOr<RecommendResult> Recommend(const RecommendRequest& r);  // State, then rank
  // Items nearest to `item_id` (never itself). kNotFound for an item not in the catalog.
  StatusOr<SimilarResult> Similar(const std::string& tenant_id, const std::string& item_id,
                                  int count, const Filters& filters);
  // True when the tenant's store is open and its catalog and popularity are
  // in memory: its requests will not read much from the store. Never blocks.
  bool Warm(const std::string& tenant_id);
  // Trending items (optionally of one category), best first; score in [0, 1].
  StatusOr<RecommendResult> Popular(const std::string& tenant_id, int count, const Filters& filters);
  // Where each answer marks its tenant used (null: nowhere). Call before concurrent use.
  void SetMemory(TenantMemory* memory) { memory_ = memory; }
  // Where a cold tenant's models are read while its request reads the
  // catalog and the user's profile (none needs another: a first request
  // then waits for the longest read, not for their sum). Without one, the
  // request reads them in turn. Call before concurrent use.
  void SetBackground(Background bg) { background_ = std::move(bg); }
  // Drops what is kept for the tenant (its model-to-catalog rows and
  // category rankings): evicted, idle or deleted.
  void Forget(const std::string& tenant_id);

 private:
  // Starts reading the tenant's models on the background when they are not
  // in memory nor being read; the request's own use then joins that read
  // (DeployedModels reads a tenant once however many ask).
  void ReadModelsAside(const std::string& tenant_id);
  // Model item rows ↔ catalog positions (RowMap, recommender.cc), per
  // (model, catalog snapshot): built once per pair instead of per request.
  std::shared_ptr<const RowMap> Rows(const std::string& tenant_id, const std::shared_ptr<const ServingModel>& m,
                                     const CatalogSnapshot& c);
  struct RowsEntry {
    std::weak_ptr<const ServingModel> model;
    uint64_t generation = 0;
    std::shared_ptr<const RowMap> rows;
  };
  std::mutex rows_mu_;
  std::map<std::string, RowsEntry> rows_;

  CategoryTrending category_trending_;  // "Trending in <category>" fills
  // Trending items passing `allowed`, after `skip` (ids already chosen),
  // then items nobody touched recently when a filter leaves too few
  // trending ones; only `categories`' items when there are categories.
  // Scores: the item's share of the tenant's trend (the chance a shopper's
  // next choice is it), at most `top_score` (the last model item's, so the
  // list stays in order).
  std::vector<Recommendation> TrendingFill(const std::string& tenant_id,
                                           const std::shared_ptr<const TrendingSnapshot>& t,
                                           const CatalogSnapshot& c,
                                           const std::function<bool(const CatalogItem&)>& allowed,
                                           const std::unordered_set<std::string>& skip, int count,
                                           double top_score, const std::set<std::string>& categories);

  DeployedModels* models_;
  CatalogCache* catalog_;
  Activity* activity_;
  store::TenantStores* tenants_;
  TenantMemory* memory_ = nullptr;
  Background background_;
  void Touch(const std::string& tenant_id) {
    if (memory_) memory_->Touch(tenant_id);
  }
};

}  // namespace embedrec::serving
