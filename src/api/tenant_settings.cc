#include "api/tenant_settings.h"

namespace embedrec::api {

StatusOr<std::string> TenantSettingsCache::Get(const std::string& tenant_id) {
  int64_t now = clock_->NowMillis();
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it != entries_.end() && now - it->second.fetched_at_ms < ttl_ms_) {
      return it->second.settings_json;
    }
  }
  ASSIGN_OR_RETURN(auto t, control_->GetTenant(tenant_id));
  std::lock_guard lock(mu_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[tenant_id] = {t.settings_json, now};
  return t.settings_json;
}

void TenantSettingsCache::Invalidate(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  entries_.erase(tenant_id);
}

}  // namespace embedrec::api
