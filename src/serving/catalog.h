// The catalog as serving reads it: every live item's attributes in memory,
// for filters and for the fields answers carry. One snapshot per tenant,
// replaced (never changed) when the catalog changes: item uploads and
// deletes invalidate it; it also expires after a while, for changes made
// by another node. The first load is made by one request while the others
// wait for it; an expired snapshot is re-read in the background (see
// SetBackground) while requests go on with it; a re-read that finds the
// same items keeps the snapshot (and its generation, so caches built on it
// stay valid).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/strings.h"
#include "serving/background.h"
#include "serving/tenant_memory.h"
#include "store/tenant_stores.h"

namespace embedrec::serving {

struct CatalogItem {
  std::string item_id, name, category, brand, image_url;
  std::optional<double> price;
  std::vector<std::string> tags;
  bool available = true;
  bool in_stock = true;             // properties stock/stock_quantity/inventory > 0, in_stock != false
  std::string properties_json = "{}";
  bool operator==(const CatalogItem&) const = default;
};

struct CatalogSnapshot {
  uint64_t generation = 0;          // changes whenever the snapshot is rebuilt
  // The store's newest event before the items were read (−1: not known),
  // and when they were read: an expired snapshot is kept while the store
  // says the catalog has not changed since (TenantStore::CatalogChangedSince).
  int64_t position = -1;
  int64_t read_at_ms = 0;
  std::vector<CatalogItem> items;   // live items
  IdMap index;                      // item_id → position in items
  // category → positions in items, in catalog order (for category filters)
  std::unordered_map<std::string, std::vector<uint32_t>> by_category;
  // Each category's number, and each item's (in catalog order): a search
  // within a category tests a number in a small array instead of every
  // candidate's category string (empty when the snapshot was built by hand).
  std::unordered_map<std::string, uint32_t> category_number;
  std::vector<uint32_t> category_of;
  // Whether the item at `pos` is in category `name`.
  bool InCategory(size_t pos, const std::string& name, uint32_t number) const {
    return category_of.size() == items.size() ? category_of[pos] == number : items[pos].category == name;
  }
  // The number of category `name` (none: one no item has).
  uint32_t CategoryNumber(const std::string& name) const {
    auto it = category_number.find(name);
    return it == category_number.end() ? UINT32_MAX : it->second;
  }
  const CatalogItem* Find(std::string_view item_id) const {
    auto it = index.find(item_id);
    return it == index.end() ? nullptr : &items[it->second];
  }
};

// The memory a snapshot holds (its items, their strings, the id index and
// the category lists), estimated.
int64_t EstimateBytes(const CatalogSnapshot& c);

// Calls fn(item index, record) for every live item of the store, page by page.
Status ForEachStoredItem(store::TenantStore& store,
                         const std::function<void(int64_t idx, store::ItemRecord&& item)>& fn);

class CatalogCache {
 public:
  // Snapshots expire after `ttl_ms`; an expired one is read again when the
  // store's event log shows a change of the catalog since it was read, or
  // when it was read `full_reread_ms` ago or more (what the log may miss:
  // pruned events, rows written by other tools). Every change made through
  // the API also invalidates the tenant's snapshot at once (Invalidate).
  explicit CatalogCache(const Clock* clock, int64_t ttl_ms = 60000, int64_t full_reread_ms = 15 * 60000)
      : clock_(clock), ttl_ms_(ttl_ms), full_reread_ms_(full_reread_ms) {}
  // The tenant's snapshot, loaded from `store` when missing; an expired one
  // is returned and checked (re-read if need be) in the background.
  StatusOr<std::shared_ptr<const CatalogSnapshot>> Get(const std::string& tenant_id,
                                                       const std::shared_ptr<store::TenantStore>& store);
  // Where expired snapshots are re-read; without it, by the request that
  // finds one expired. Call before concurrent use.
  void SetBackground(Background bg) { background_ = std::move(bg); }
  // Where the snapshots' bytes are counted (null: nowhere). Call before
  // concurrent use.
  void SetMemory(TenantMemory* memory) { memory_ = memory; }
  // The tenant's snapshot if one is in memory (even expired); null otherwise. Never blocks on I/O.
  std::shared_ptr<const CatalogSnapshot> Peek(const std::string& tenant_id);
  void Invalidate(const std::string& tenant_id);
  // How many times a catalog was read from a store, and how many expired
  // snapshots were kept because it had not changed (for tests and /metrics).
  uint64_t Loads() const { return loads_.load(); }
  uint64_t Kept() const { return kept_.load(); }

 private:
  struct Entry {
    std::shared_ptr<const CatalogSnapshot> snapshot;
    int64_t loaded_at_ms = 0;
    bool reloading = false;
  };
  StatusOr<std::shared_ptr<CatalogSnapshot>> Load(store::TenantStore& store);
  // Loads the tenant's catalog and installs it; `previous` is the expired
  // snapshot being re-read (null for a first load), `invalidations` the
  // count when the load was decided, `background` true off the request path.
  StatusOr<std::shared_ptr<const CatalogSnapshot>> Reload(const std::string& tenant_id, store::TenantStore& store,
                                                          std::shared_ptr<const CatalogSnapshot> previous,
                                                          uint64_t invalidations, int64_t now, bool background);
  const Clock* clock_;
  Background background_;
  TenantMemory* memory_ = nullptr;
  int64_t ttl_ms_, full_reread_ms_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t next_generation_ = 1;
  uint64_t invalidations_ = 0;  // a load begun before an Invalidate is stale
  // Tenants whose first load is running: the other requests wait for it.
  std::map<std::string, std::shared_future<void>> first_loads_;
  std::atomic<uint64_t> loads_{0}, kept_{0};
};

}  // namespace embedrec::serving
