// Tenant settings read on hot paths (every tracked interaction), cached in
// memory. Changes made through this process invalidate the entry at once;
// entries also expire after a few seconds so another node's change is seen.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "store/control_store.h"

namespace embedrec::api {

class TenantSettingsCache {
 public:
  TenantSettingsCache(store::ControlStore* control, const Clock* clock, int64_t ttl_ms = 5000)
      : control_(control), clock_(clock), ttl_ms_(ttl_ms) {}
  // The tenant's settings JSON. Errors as ControlStore::GetTenant.
  StatusOr<std::string> Get(const std::string& tenant_id);
  void Invalidate(const std::string& tenant_id);

 private:
  struct Entry {
    std::string settings_json;
    int64_t fetched_at_ms;
  };
  store::ControlStore* control_;
  const Clock* clock_;
  int64_t ttl_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace embedrec::api
