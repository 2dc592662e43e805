// Tenant settings read on hot paths (every tracked interaction), parsed once
// and cached in memory. Changes made through this process invalidate the
// entry at once; entries also expire after a few seconds so another node's
// change is seen.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "interactions/interaction_types.h"
#include "limits/limit_store.h"
#include "tenants/tenant_limits.h"
#include "serving/exclusion.h"
#include "serving/merchandising.h"
#include "store/control_store.h"

namespace embedrec::api {

// The settings that decide how a tenant's data is accepted.
struct TenantRules {
  std::set<std::string> custom_types;  // settings.interaction_types keys, lowercased
  interactions::TypeWeights weights;             // settings.interaction_types.<type>.weight over the defaults
  bool auto_create_items = false;      // settings.auto_create_items
  int max_recommendations = 50;        // settings.max_recommendations
  int cache_ttl_seconds = 300;         // settings.cache_ttl_seconds (0: no result cache)
  serving::Exclusion exclude_from_recommendations = serving::Exclusion::kAuto;  // settings.exclude_from_recommendations
  // settings.attribution.click_window_minutes (default 30), .conversion_window_hours (default 24)
  int64_t click_window_ms = 30 * 60'000;
  int64_t conversion_window_ms = 24 * 3'600'000;
  // settings.merchandising (serving/merchandising.h); null: none. Its text's
  // hash names it in the result cache's keys (a change is seen at once).
  std::shared_ptr<const serving::Merchandising> merchandising;
  uint64_t merchandising_hash = 0;
  // settings.allowed_origins: the web origins ("https://shop.example") whose
  // pages may call the browser routes; "*": any (publishable keys only).
  std::set<std::string> allowed_origins;
  // settings.rate_limit {requests_per_second, burst}: each API key's (and
  // each signed-in user's) token bucket, counted across nodes with Redis;
  // per_second 0: none (the default).
  limits::BucketPolicy rate_limit;
  // settings.limits over the platform's defaults: what the platform admin
  // lets the tenant use (tenants/tenant_limits.h).
  tenants::TenantLimits limits;
  // settings.currency: the shop's ISO 4217 code (empty: none named). Uploads
  // refuse amounts written in another; analytics' answers name it.
  std::string currency;
};

// Parses the rules out of a tenant's settings JSON (missing or malformed: defaults).
TenantRules ParseTenantRules(const std::string& settings_json, const tenants::TenantLimits& default_limits = {});

class TenantSettingsCache {
 public:
  TenantSettingsCache(store::ControlStore* control, const Clock* clock, int64_t ttl_ms = 5000,
                      tenants::TenantLimits default_limits = {})
      : control_(control), clock_(clock), ttl_ms_(ttl_ms), default_limits_(default_limits) {}
  const tenants::TenantLimits& default_limits() const { return default_limits_; }
  // The tenant's rules. Errors as ControlStore::GetTenant.
  StatusOr<TenantRules> Rules(const std::string& tenant_id);
  void Invalidate(const std::string& tenant_id);
  // True when Rules(tenant_id) would answer from memory. Never blocks.
  bool IsFresh(const std::string& tenant_id);

 private:
  struct Entry {
    TenantRules rules;
    int64_t fetched_at_ms;
  };
  store::ControlStore* control_;
  const Clock* clock_;
  int64_t ttl_ms_;
  tenants::TenantLimits default_limits_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace embedrec::api
