// What serving holds in memory per tenant beyond its models — the catalog
// snapshot, popularity and the user profiles, and the recommendation log's
// index of the tenant's recent answers — counted under one memory
// budget with the models (issue 14): while the total weighs more than the
// budget, tenants are dropped whole, least recently used first, by the
// `evict` callback the wiring gives (catalog, activity and models alike; all
// are read again on the tenant's next request, as after an idle close).
//
// The caches (and the log) report what they hold (Set) and a request marks
// its tenant used (Touch); the models' bytes come from `models_bytes` (DeployedModels, which
// keeps its own least-recently-used order within the same budget). The
// tenant being charged or touched is never the one dropped: a tenant larger
// than the budget alone is still served.
//
// Thread safety: safe for concurrent use. `evict` and `models_bytes` are
// called without this object's lock held; `evict` may call back into it.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace embedrec::serving {

class TenantMemory {
 public:
  enum class Part { kCatalog = 0, kActivity = 1, kLog = 2 };
  static constexpr int kParts = 3;
  using Evict = std::function<void(const std::string& tenant_id)>;

  // budget_bytes ≤ 0: nothing is ever dropped (the bytes are still counted).
  TenantMemory(int64_t budget_bytes, Evict evict, std::function<int64_t()> models_bytes = {});

  // The tenant was used now.
  void Touch(const std::string& tenant_id);
  // The tenant's `part` now holds `bytes` (0: nothing); the tenant counts as
  // used. A 0 for a tenant not held is ignored (a dropped tenant's caches
  // report their release), and so is kLog for one not held for another part:
  // the log tells from its own threads, and a report racing the tenant's
  // drop must not bring it back (a served tenant holds its catalog).
  void Set(const std::string& tenant_id, Part part, int64_t bytes);
  // The tenant holds nothing any more (dropped by its caches: idle, deleted).
  void Forget(const std::string& tenant_id);

  struct Usage {
    int64_t tenants = 0;                 // tenants holding anything counted here
    int64_t catalog_bytes = 0, activity_bytes = 0, log_bytes = 0;
    int64_t models_bytes = 0;            // as models_bytes() says
    int64_t budget = 0;
    int64_t evictions = 0;               // tenants dropped to stay within the budget
  };
  Usage usage() const;

 private:
  struct Entry {
    int64_t bytes[kParts] = {};
    std::list<std::string>::iterator lru;
  };
  // Drops least recently used tenants (never `keep`) while over the budget.
  void Enforce(const std::string& keep);
  int64_t ModelsBytes() const;
  int64_t HeldLocked() const;  // the parts' sum; mu_ held

  const int64_t budget_;
  const Evict evict_;
  const std::function<int64_t()> models_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
  int64_t part_bytes_[kParts] = {};
  int64_t evictions_ = 0;
};

}  // namespace embedrec::serving
