// The models being served: per tenant, its live versions with their share
// of the traffic (one at 100 % unless an experiment splits it), swapped atomically: a request
// takes a reference to the tenant's current model and keeps using it even if
// a deploy replaces it meanwhile; later requests see the new one. Also keeps
// the load problems /readyz reports (a deployed model file that could not be
// read, and which version serves instead).
//
// Residency (issue 14): with a loader set, nothing is read at start-up; a
// tenant's versions are read on its first use (one reader, the others
// wait) and dropped, least recently used first, while the resident models
// weigh more than the memory budget. A request that holds a model keeps it
// until it is done.
//
// Thread safety: safe for concurrent use. Without a loader nothing blocks
// on I/O; with one, the first use of a tenant that is not resident reads
// its models (Resident() tells callers to do that off the hot path).
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ann/item_index.h"
#include "common/status.h"
#include "common/strings.h"
#include "ml/calibration.h"
#include "ml/model.h"
#include "ml/reranker.h"

namespace embedrec::serving {

// A trained model ready to answer: embeddings (through the model, which also
// folds in new users), the external ids of its rows, and the item index.
struct ServingModel {
  std::string version;        // "v1.0_20261125"
  ml::ModelType model_type = ml::ModelType::kLightGcn;
  // Its fold-in already ranks the neighbours of the items folded in: an
  // item-to-item model, or a blend with one (ml/model_type.h).
  bool item_to_item = false;
  int64_t created_at_ms = 0;  // when the version was stored: later events are new to it
  std::unique_ptr<ml::Model> model;
  std::vector<std::string> user_ids, item_ids;  // row → external id
  IdMap user_rows, item_rows;                    // external id → row
  std::unique_ptr<ann::ItemIndex> index;
  std::vector<float> item_norms;  // Euclidean norm of each item row (cosine similarity)
  float max_item_norm = 0;        // the largest of them
  // Inner product → probability of choice, fitted when the model was trained
  // (the model file's metadata "score_calibration"); sigmoid(ip) without one.
  ml::ScoreCalibration calibration;
  // The weight of the newest events the model has seen in a user's query
  // (ml/recency.h; the model file's metadata "recent_events_share").
  double recent_events_share = 0;
  // The share of an item's similar items its category's bestsellers take
  // (ml/similar_items.h; the model file's metadata "similar_category_share").
  double similar_category_share = 0;
  // The training pairs per user row (sorted item rows), when the file has them.
  std::vector<int64_t> history_offsets;
  std::vector<int32_t> history_items;
  // The second stage its training job fitted and kept (ml/reranker.h; the
  // model file's metadata "reranker"), with what it reads: log(1 + users who
  // chose each item row). Absent without one, or without the history.
  std::optional<ml::Reranker> reranker;
  std::vector<float> item_log_users;
  // Exact search over the user embeddings (nearest customers), when there
  // are at most kMaxUserIndex users; null otherwise.
  static constexpr int64_t kMaxUserIndex = 200000;
  std::unique_ptr<ann::ItemIndex> user_index;
  // What it holds in memory, estimated when loaded (EstimateBytes).
  int64_t bytes = 0;

  // True when user row `u` trained on item row `i`.
  bool UserHad(int64_t u, int32_t i) const;
  // The `k` users nearest to user row `u` by the model (not `u` itself);
  // computed once per user and kept (bounded), empty without a user index.
  std::vector<int64_t> NearestUsers(int64_t u, int k) const;
  // Item rows with their inner product, best first.
  using Candidates = std::vector<std::pair<int64_t, float>>;
  // The `k` (at most kSimilarCandidates) items of largest inner product
  // with item row `i` (not `i`), best first; computed once per item and kept
  // (bounded): a kept list at least as long serves a shorter ask.
  static constexpr int kSimilarCandidates = 200;
  std::shared_ptr<const Candidates> SimilarCandidates(int64_t i, int k = kSimilarCandidates) const;
  // What item row `i`'s similar items are ranked by (their inner products
  // with it): its own row, or where the fold-in ranks an item's neighbours
  // (item_to_item) the fold-in of that item alone — for an item-to-item
  // model its row of the item × item matrix, where the item's own row is
  // only the matrix's column (the items that predict it). A visitor who saw
  // only item i is folded in the same way.
  std::vector<float> SimilarQuery(int64_t i) const;
  // The kUserCandidates items of largest inner product with user row `u`'s
  // trained embedding, best first; computed once per user and kept (bounded).
  // Walking it in order with a filter gives the filtered top k exactly (as
  // exactly as the index) while k items pass, or while the list holds every
  // item (fewer than kUserCandidates items in the model).
  static constexpr int kUserCandidates = 200;  // ml::Reranker::kCandidates, and room for exclusions
  std::shared_ptr<const Candidates> UserCandidates(int64_t u) const;
  // The pairs each kind of kept list may hold for a model of `rows` items
  // (similar items) or users (their candidates): lists for a tenth of them.
  static size_t KeptPairsBound(size_t rows) { return std::max<size_t>(size_t{1} << 14, 20 * rows); }

 private:
  // Kept lists with a second-chance bit: set when a list is used; when the
  // lists are full, those not used since the last sweep go (hot items stay).
  struct KeptList {
    std::shared_ptr<const Candidates> list;
    bool used = false;
  };
  struct KeptLists {
    std::unordered_map<int64_t, KeptList> lists;
    size_t pairs = 0;
  };
  // The list kept under `key` when it holds at least `need` pairs (or
  // every item there is), else `search()`'s, kept for next time while the
  // lists hold at most `max_pairs`.
  std::shared_ptr<const Candidates> Kept(KeptLists& lists, int64_t key, size_t need, size_t max_pairs,
                                         const std::function<Candidates()>& search) const;

  mutable std::mutex neighbours_mu_;
  mutable std::unordered_map<int64_t, std::vector<int64_t>> neighbours_;
  mutable KeptLists similar_, user_candidates_;
};

// Builds a ServingModel from a model file's bytes and its index's bytes.
// kFailedPrecondition for a damaged file (nothing half-loaded).
StatusOr<std::shared_ptr<const ServingModel>> LoadServingModel(const std::string& version,
                                                               int64_t created_at_ms,
                                                               std::string_view model_bytes,
                                                               std::string_view index_bytes,
                                                               const ann::IndexOptions& options);

// The memory a loaded model holds: its arrays, ids and id maps, its index
// (its serialised size), and a share of the candidate lists it keeps.
int64_t EstimateBytes(const ServingModel& m, size_t index_bytes);

// A version serving a share of a tenant's users.
struct LiveVersion {
  std::shared_ptr<const ServingModel> model;
  double weight = 1;  // share of users, relative to the other live versions' (> 0)
};

class DeployedModels {
 public:
  // What a tenant serves, as read from storage: its live versions (the
  // deployed one first; none when it has no deployed model) and the problem
  // to report, if any.
  struct Loaded {
    std::vector<LiveVersion> live;
    std::string problem;
  };
  using Loader = std::function<StatusOr<Loaded>(const std::string& tenant_id)>;
  // Turns lazy residency on (see above); budget_bytes ≤ 0: no eviction.
  void SetLoader(Loader load, int64_t budget_bytes);
  // True when a use of the tenant will not read storage: its models are in
  // memory, or it is known to have none (always true without a loader).
  bool Resident(const std::string& tenant_id) const;
  // True while a use of the tenant is reading its models.
  bool Reading(const std::string& tenant_id) const;
  struct Residency {
    int64_t tenants = 0, bytes = 0, budget = 0, loads = 0, evictions = 0;
  };
  Residency residency() const;

  // The tenant's deployed (primary) version, or null when it has none.
  std::shared_ptr<const ServingModel> Get(const std::string& tenant_id) const;
  // The live version answering `user_id`: with one, it; with several, one
  // drawn by weight from a hash of the tenant and user, so a user stays with
  // one version while the split is unchanged. Null when the tenant has none.
  std::shared_ptr<const ServingModel> For(const std::string& tenant_id, std::string_view user_id) const;
  // The live version named `version`, or null.
  std::shared_ptr<const ServingModel> Find(const std::string& tenant_id, std::string_view version) const;
  // The tenant's live versions, the deployed one first.
  std::vector<LiveVersion> Live(const std::string& tenant_id) const;
  // Makes `model` the tenant's only live version (null: none) and clears its
  // load problem.
  void Set(const std::string& tenant_id, std::shared_ptr<const ServingModel> model);
  // Replaces the tenant's live versions (the first is the deployed one);
  // kInvalidArgument for an empty set, a null model, a repeated version or a
  // weight that is not > 0.
  Status SetLive(const std::string& tenant_id, std::vector<LiveVersion> live);
  // Whether the tenant's models in memory are `version` alone (never reads
  // storage): then a deploy of `version` announced by an event has nothing
  // for this node to read again.
  bool ServesOnly(const std::string& tenant_id, std::string_view version) const;
  // Drops the tenant's models from memory (they are read again on next use;
  // counted as an eviction). Nothing without a loader.
  void Evict(const std::string& tenant_id);
  // Records why the tenant's deployed version could not be served.
  void SetProblem(const std::string& tenant_id, std::string problem);
  // Tenant id → problem, for /readyz.
  std::map<std::string, std::string> Problems() const;

 private:
  using LiveSet = std::vector<LiveVersion>;
  struct Entry {
    std::shared_ptr<const LiveSet> live;
    int64_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  // The tenant's live set, read through the loader when it is not resident.
  std::shared_ptr<const LiveSet> Acquire(const std::string& tenant_id) const;
  // Replaces the tenant's set (null: none) and evicts over the budget; what
  // is dropped goes to `released`, to be freed once the lock is let go.
  void InstallLocked(const std::string& tenant_id, std::shared_ptr<const LiveSet> live,
                     std::vector<std::shared_ptr<const LiveSet>>* released) const;

  mutable std::mutex mu_;
  mutable std::condition_variable loaded_cv_;
  Loader load_;
  int64_t budget_ = 0;
  // Loading changes these from const readers: all guarded by mu_.
  mutable std::map<std::string, Entry> models_;
  mutable std::list<std::string> lru_;  // most recently used first
  mutable std::set<std::string> absent_, loading_;
  mutable std::map<std::string, uint64_t> generation_;  // bumped by Set/SetLive
  mutable int64_t bytes_ = 0, loads_ = 0, evictions_ = 0;
  mutable std::map<std::string, std::string> problems_;
};

}  // namespace embedrec::serving
