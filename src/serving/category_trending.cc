#include "serving/category_trending.h"

#include <algorithm>

namespace embedrec::serving {
namespace {

// Trending's order over catalog positions with scores: score, then id;
// untouched items (score 0) after, in catalog order.
auto TrendingOrder(const CatalogSnapshot& c) {
  return [&c](const std::pair<uint32_t, double>& a, const std::pair<uint32_t, double>& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.second > 0 ? c.items[a.first].item_id < c.items[b.first].item_id : a.first < b.first;
  };
}

constexpr size_t kMaxBases = 10000;  // (tenant, category) rankings kept; rebuilt on demand past it

}  // namespace

std::shared_ptr<const CategoryTrending::Ranked> CategoryTrending::BaseRanked(
    const std::string& tenant_id, const std::string& category,
    const std::shared_ptr<const TrendingSnapshot::Base>& base, const CatalogSnapshot& c) {
  const auto key = std::make_pair(tenant_id, category);
  {
    std::lock_guard lock(mu_);
    auto it = bases_.find(key);
    if (it != bases_.end() && it->second.generation == c.generation && it->second.base.lock() == base) {
      return it->second.ranked;
    }
  }
  auto ranked = std::make_shared<Ranked>();
  if (auto it = c.by_category.find(category); it != c.by_category.end()) {
    ranked->reserve(it->second.size());
    for (uint32_t pos : it->second) ranked->emplace_back(pos, base ? base->Score(c.items[pos].item_id) : 0.0);
  }
  std::sort(ranked->begin(), ranked->end(), TrendingOrder(c));
  std::lock_guard lock(mu_);
  if (bases_.size() >= kMaxBases) bases_.clear();
  bases_[key] = {base, c.generation, ranked};
  return ranked;
}

std::shared_ptr<const CategoryTrending::Overlay> CategoryTrending::OverlayOf(
    const std::string& tenant_id, const std::shared_ptr<const TrendingSnapshot>& t, const CatalogSnapshot& c) {
  {
    std::lock_guard lock(mu_);
    auto it = overlays_.find(tenant_id);
    if (it != overlays_.end() && it->second.generation == c.generation && it->second.trending.lock() == t) {
      return it->second.overlay;
    }
  }
  auto overlay = std::make_shared<Overlay>();
  overlay->stale.reserve(t->changed.size());
  for (const auto& [id, s] : t->changed) {
    auto it = c.index.find(id);
    if (it == c.index.end()) continue;  // not a live item: in no category's list
    const auto pos = static_cast<uint32_t>(it->second);
    overlay->by_category[c.items[pos].category].emplace_back(pos, s);
    overlay->stale.push_back(pos);
  }
  for (auto& [category, ranked] : overlay->by_category) std::sort(ranked.begin(), ranked.end(), TrendingOrder(c));
  std::sort(overlay->stale.begin(), overlay->stale.end());
  std::lock_guard lock(mu_);
  overlays_[tenant_id] = {t, c.generation, overlay};
  return overlay;
}

void CategoryTrending::ForEach(const std::string& tenant_id, const std::set<std::string>& categories,
                               const std::shared_ptr<const TrendingSnapshot>& t, const CatalogSnapshot& c,
                               const std::function<bool(uint32_t, double)>& fn) {
  const auto overlay = OverlayOf(tenant_id, t, c);
  // Per category two lists in trending order: the base's (skipping the
  // entries the overlay replaces) and the overlay's; merged as read.
  struct List {
    std::shared_ptr<const Ranked> keep;  // holds `entries` alive (base lists)
    const Ranked* entries;
    size_t at = 0;
    bool skip_stale;
  };
  std::vector<List> lists;
  for (const auto& category : categories) {
    auto base = BaseRanked(tenant_id, category, t->base, c);
    const Ranked* entries = base.get();
    lists.push_back({std::move(base), entries, 0, !overlay->stale.empty()});
    if (auto it = overlay->by_category.find(category); it != overlay->by_category.end()) {
      lists.push_back({nullptr, &it->second, 0, false});
    }
  }
  const auto before = TrendingOrder(c);
  const auto& stale = overlay->stale;
  while (true) {
    List* best = nullptr;
    for (auto& l : lists) {
      if (l.skip_stale) {
        while (l.at < l.entries->size() &&
               std::binary_search(stale.begin(), stale.end(), (*l.entries)[l.at].first)) {
          ++l.at;
        }
      }
      if (l.at == l.entries->size()) continue;
      if (!best || before((*l.entries)[l.at], (*best->entries)[best->at])) best = &l;
    }
    if (!best) return;
    const auto& [pos, score] = (*best->entries)[best->at++];
    if (!fn(pos, score)) return;
  }
}

void CategoryTrending::Drop(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  overlays_.erase(tenant_id);
  for (auto it = bases_.lower_bound({tenant_id, ""}); it != bases_.end() && it->first.first == tenant_id;) {
    it = bases_.erase(it);
  }
}

}  // namespace embedrec::serving
