#include "serving/catalog.h"

#include <boost/json/parse.hpp>
#include <optional>

#include "common/memory.h"
#include "serving/first_load.h"

namespace embedrec::serving {
namespace json = boost::json;

namespace {

// Stock from the item's extra properties: false when a stock count is 0 or
// in_stock is false; true when nothing says otherwise.
bool InStock(const std::string& properties_json) {
  // Most items say nothing of stock: no parse ("in_stock" holds "stock").
  if (properties_json.find("stock") == std::string::npos && properties_json.find("inventory") == std::string::npos) {
    return true;
  }
  boost::system::error_code ec;
  json::value v = json::parse(properties_json, ec);
  if (ec || !v.is_object()) return true;
  const auto& o = v.as_object();
  if (auto* s = o.if_contains("in_stock")) {
    if (s->is_bool()) return s->as_bool();
    if (s->is_string()) return s->as_string() != "false" && s->as_string() != "0";
  }
  for (const char* key : {"stock", "stock_quantity", "inventory"}) {
    const json::value* s = o.if_contains(key);
    if (!s) continue;
    if (s->is_number()) return s->to_number<double>() > 0;
    if (s->is_string()) {
      try {
        return std::stod(std::string(s->as_string())) > 0;
      } catch (...) {
      }
    }
  }
  return true;
}

}  // namespace

StatusOr<std::shared_ptr<const CatalogSnapshot>> CatalogCache::Get(
    const std::string& tenant_id, const std::shared_ptr<store::TenantStore>& store) {
  const int64_t now = clock_->NowMillis();
  std::shared_ptr<const CatalogSnapshot> previous;
  uint64_t invalidations = 0;
  std::optional<FirstLoad> first;  // when this request makes the first load
  {
    std::unique_lock lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it != entries_.end()) {
      if (now - it->second.loaded_at_ms < ttl_ms_ || it->second.reloading) return it->second.snapshot;
      it->second.reloading = true;  // one re-read; meanwhile everyone uses the expired snapshot
      previous = it->second.snapshot;
    } else if (auto f = first_loads_.find(tenant_id); f != first_loads_.end()) {
      auto loading = f->second;  // another request is loading it: wait for that one
      lock.unlock();
      loading.wait();
      return Get(tenant_id, store);
    } else {
      first_loads_.emplace(tenant_id, first.emplace().done());
    }
    invalidations = invalidations_;
    if (previous && background_) {
      background_(tenant_id, [this, tenant_id, store, previous, invalidations, now] {
        (void)Reload(tenant_id, *store, previous, invalidations, now, /*background=*/true);  // failed: tried again
      });
      return previous;
    }
  }
  auto got = Reload(tenant_id, *store, previous, invalidations, now, /*background=*/false);
  if (first) {
    std::lock_guard lock(mu_);
    first_loads_.erase(tenant_id);
  }
  return got;
}

StatusOr<std::shared_ptr<const CatalogSnapshot>> CatalogCache::Reload(
    const std::string& tenant_id, store::TenantStore& store, std::shared_ptr<const CatalogSnapshot> previous,
    uint64_t invalidations, int64_t now, bool background) {
  // Expired but unchanged (a probe of the event log): kept, not read again.
  if (previous && previous->position >= 0 && now - previous->read_at_ms < full_reread_ms_) {
    auto changed = store.CatalogChangedSince(previous->position);
    if (changed.ok() && !*changed) {
      std::lock_guard lock(mu_);
      ++kept_;
      auto it = entries_.find(tenant_id);
      if (it != entries_.end() && it->second.snapshot == previous) {
        it->second.reloading = false;
        if (invalidations == invalidations_) it->second.loaded_at_ms = now;
      }
      return previous;
    }
  }
  auto loaded = Load(store);
  ++loads_;
  std::shared_ptr<const CatalogSnapshot> installed;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it != entries_.end()) it->second.reloading = false;
    if (!loaded.ok()) return loaded.status();
    // Read in the background before an invalidation: dropped (the next request loads afresh).
    if (background && invalidations != invalidations_) {
      return std::shared_ptr<const CatalogSnapshot>(std::move(*loaded));
    }
    auto& e = entries_[tenant_id];
    if (previous && e.snapshot == previous && previous->items == (*loaded)->items) {
      // Unchanged: the same generation (what answers and caches built on it
      // stay valid), with the position and time of this read.
      (*loaded)->generation = previous->generation;
      e.snapshot = std::move(*loaded);
      e.loaded_at_ms = now;
      return e.snapshot;
    }
    (*loaded)->generation = next_generation_++;
    e.snapshot = std::move(*loaded);
    // Read before an invalidation: used by this request, but expired for the next one.
    e.loaded_at_ms = invalidations == invalidations_ ? now : now - ttl_ms_;
    installed = e.snapshot;
  }
  // Counted without the lock: going over the budget drops other tenants' snapshots.
  if (memory_) memory_->Set(tenant_id, TenantMemory::Part::kCatalog, EstimateBytes(*installed));
  return installed;
}

int64_t EstimateBytes(const CatalogSnapshot& c) {
  int64_t b = sizeof(CatalogSnapshot) + static_cast<int64_t>(c.items.capacity() * sizeof(CatalogItem));
  for (const auto& item : c.items) {
    b += HeapBytes(item.item_id) + HeapBytes(item.name) + HeapBytes(item.category) + HeapBytes(item.brand) +
         HeapBytes(item.image_url) + HeapBytes(item.properties_json);
    b += static_cast<int64_t>(item.tags.capacity() * sizeof(std::string));
    for (const auto& t : item.tags) b += HeapBytes(t);
    b += 64 + HeapBytes(item.item_id);  // its id index entry: the key's copy and the hash node
    b += 4 + 4;                         // its place in its category's list, its category's number
  }
  b += static_cast<int64_t>(c.by_category.size()) * (96 + 64);  // a category's node, name, list and number
  return b;
}

Status ForEachStoredItem(store::TenantStore& store,
                         const std::function<void(int64_t idx, store::ItemRecord&& item)>& fn) {
  constexpr int kPage = 5000;
  for (int64_t after = -1;;) {
    std::vector<int64_t> idx;
    ASSIGN_OR_RETURN(auto page, store.ListItems(after, kPage, "", &idx));
    for (size_t i = 0; i < page.size() && i < idx.size(); ++i) fn(idx[i], std::move(page[i]));
    if (static_cast<int>(page.size()) < kPage || idx.empty()) return Status::Ok();
    after = idx.back();
  }
}

StatusOr<std::shared_ptr<CatalogSnapshot>> CatalogCache::Load(store::TenantStore& store) {
  auto snap = std::make_shared<CatalogSnapshot>();
  ASSIGN_OR_RETURN(snap->position, store.LatestEventSeq());  // before the items: a change meanwhile is seen next time
  snap->read_at_ms = clock_->NowMillis();
  // Sized once: a million items grown by doubling were copied ~20 times
  // over fresh pages the kernel zeroed (a third of a cold read's time).
  if (auto n = store.CountItems(); n.ok() && *n > 0) {
    const auto size = static_cast<size_t>(*n);
    snap->items.reserve(size);
    snap->category_of.reserve(size);
    snap->index.reserve(size);
  }
  RETURN_IF_ERROR(ForEachStoredItem(store, [&](int64_t, store::ItemRecord&& r) {
    CatalogItem c;
    c.item_id = std::move(r.item_id);
    c.name = std::move(r.name);
    c.category = std::move(r.category);
    c.brand = std::move(r.brand);
    c.image_url = std::move(r.image_url);
    c.price = r.price;
    c.tags = std::move(r.tags);
    c.available = r.available;
    c.in_stock = InStock(r.properties_json);
    c.properties_json = std::move(r.properties_json);
    snap->index.emplace(c.item_id, snap->items.size());
    snap->by_category[c.category].push_back(static_cast<uint32_t>(snap->items.size()));
    const auto number = snap->category_number.try_emplace(c.category, static_cast<uint32_t>(snap->category_number.size()));
    snap->category_of.push_back(number.first->second);
    snap->items.push_back(std::move(c));
  }));
  return snap;
}

std::shared_ptr<const CatalogSnapshot> CatalogCache::Peek(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(tenant_id);
  return it == entries_.end() ? nullptr : it->second.snapshot;
}

void CatalogCache::Invalidate(const std::string& tenant_id) {
  {
    std::lock_guard lock(mu_);
    ++invalidations_;
    entries_.erase(tenant_id);
  }
  if (memory_) memory_->Set(tenant_id, TenantMemory::Part::kCatalog, 0);
}

}  // namespace embedrec::serving
