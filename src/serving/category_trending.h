// A category's items in trending's order (best first, then the items nobody
// touched recently, in catalog order): what "Trending in <category>" fills
// take, for similar items and for recommendations filtered by category.
//
// A trending snapshot is a ranked base plus an overlay of the few items whose
// score changed since (activity.h), and every tracked event makes a new
// snapshot. So a category's base ranking is built once per base and catalog
// snapshot, the overlay's items are placed once per trending snapshot, and a
// request merges the two as it reads, stopping when it has enough — no work
// over the whole category per event or per request.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "serving/activity.h"
#include "serving/catalog.h"

namespace embedrec::serving {

class CategoryTrending {
 public:
  // Calls fn(catalog position, trending score) for the items of
  // `categories` (one ranking over all of them) in trending order until fn
  // returns false or every item was given.
  void ForEach(const std::string& tenant_id, const std::set<std::string>& categories,
               const std::shared_ptr<const TrendingSnapshot>& t, const CatalogSnapshot& c,
               const std::function<bool(uint32_t, double)>& fn);
  // Forgets a tenant's rankings.
  void Drop(const std::string& tenant_id);

 private:
  using Ranked = std::vector<std::pair<uint32_t, double>>;  // catalog position, score
  // A trending snapshot's changed items placed in the catalog.
  struct Overlay {
    std::unordered_map<std::string, Ranked> by_category;  // in trending order
    std::vector<uint32_t> stale;  // their positions, ascending: base entries that no longer hold
  };
  std::shared_ptr<const Ranked> BaseRanked(const std::string& tenant_id, const std::string& category,
                                           const std::shared_ptr<const TrendingSnapshot::Base>& base,
                                           const CatalogSnapshot& c);
  std::shared_ptr<const Overlay> OverlayOf(const std::string& tenant_id,
                                           const std::shared_ptr<const TrendingSnapshot>& t,
                                           const CatalogSnapshot& c);

  struct BaseEntry {
    std::weak_ptr<const TrendingSnapshot::Base> base;
    uint64_t generation = 0;
    std::shared_ptr<const Ranked> ranked;
  };
  struct OverlayEntry {
    std::weak_ptr<const TrendingSnapshot> trending;
    uint64_t generation = 0;
    std::shared_ptr<const Overlay> overlay;
  };
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, BaseEntry> bases_;  // GUARDED_BY(mu_)
  std::map<std::string, OverlayEntry> overlays_;                     // GUARDED_BY(mu_)
};

}  // namespace embedrec::serving
