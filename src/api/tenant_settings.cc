#include "api/tenant_settings.h"

#include "common/json_text.h"

#include <algorithm>

#include <boost/json.hpp>

#include "common/strings.h"

namespace embedrec::api {
namespace json = boost::json;

TenantRules ParseTenantRules(const std::string& settings_json, const tenants::TenantLimits& default_limits) {
  TenantRules rules;
  rules.limits = default_limits;
  boost::system::error_code ec;
  json::value v = json::parse(settings_json, ec);
  if (ec || !v.is_object()) return rules;
  rules.weights = interactions::TypeWeights::FromSettings(settings_json);
  const auto& o = v.as_object();
  if (auto* types = o.if_contains("interaction_types"); types && types->is_object()) {
    for (auto& [k, w] : types->as_object()) rules.custom_types.insert(AsciiLower(std::string(k)));
  }
  if (auto* a = o.if_contains("auto_create_items"); a && a->is_bool()) {
    rules.auto_create_items = a->as_bool();
  }
  if (auto* m = o.if_contains("max_recommendations"); m && m->is_int64()) {
    rules.max_recommendations = static_cast<int>(std::clamp<int64_t>(m->as_int64(), 1, 1000));
  }
  if (auto* c = o.if_contains("cache_ttl_seconds"); c && c->is_int64()) {
    rules.cache_ttl_seconds = static_cast<int>(std::clamp<int64_t>(c->as_int64(), 0, 86400));
  }
  if (auto* r = o.if_contains("rate_limit"); r && r->is_object()) {
    const auto* rps = r->as_object().if_contains("requests_per_second");
    const auto* burst = r->as_object().if_contains("burst");
    if (rps && rps->is_number() && rps->to_number<double>() > 0) {
      rules.rate_limit.per_second = rps->to_number<double>();
      rules.rate_limit.burst = burst && burst->is_number() ? std::max(1.0, burst->to_number<double>())
                                                           : std::max(1.0, rules.rate_limit.per_second);
    }
  }
  rules.limits = tenants::LimitsOf(o, default_limits);
  if (auto* e = o.if_contains("exclude_from_recommendations"); e && e->is_string()) {
    if (auto x = serving::ParseExclusion(e->as_string())) rules.exclude_from_recommendations = *x;
  }
  if (auto* a = o.if_contains("attribution"); a && a->is_object()) {
    auto window = [&](const char* key, double unit_ms, double max_units, int64_t* out) {
      const json::value* x = a->as_object().if_contains(key);
      if (!x || !x->is_number()) return;
      const double units = x->to_number<double>();
      if (units > 0 && units <= max_units) *out = std::max<int64_t>(1, static_cast<int64_t>(units * unit_ms));
    };
    window("click_window_minutes", 60'000.0, 1440, &rules.click_window_ms);
    window("conversion_window_hours", 3'600'000.0, 720, &rules.conversion_window_ms);
  }
  if (auto* c = o.if_contains("currency"); c && c->is_string()) rules.currency = std::string(c->as_string());
  if (auto* a = o.if_contains("allowed_origins"); a && a->is_array()) {
    for (const auto& x : a->as_array()) {
      if (x.is_string()) rules.allowed_origins.insert(AsciiLower(std::string(x.as_string())));
    }
  }
  if (auto* m = o.if_contains("merchandising"); m && !m->is_null()) {
    auto merch = serving::ParseMerchandising(*m);  // checked when stored: unreadable only if hand-edited
    if (merch.ok() && !merch->empty()) {
      rules.merchandising = std::make_shared<const serving::Merchandising>(std::move(merch).value());
      rules.merchandising_hash = std::hash<std::string>()(JsonText(*m));
    }
  }
  return rules;
}

StatusOr<TenantRules> TenantSettingsCache::Rules(const std::string& tenant_id) {
  int64_t now = clock_->NowMillis();
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it != entries_.end() && now - it->second.fetched_at_ms < ttl_ms_) return it->second.rules;
  }
  ASSIGN_OR_RETURN(auto t, control_->GetTenant(tenant_id));
  TenantRules rules = ParseTenantRules(t.settings_json, default_limits_);
  std::lock_guard lock(mu_);
  if (entries_.size() > 100000) entries_.clear();
  entries_[tenant_id] = {rules, now};
  return rules;
}

bool TenantSettingsCache::IsFresh(const std::string& tenant_id) {
  int64_t now = clock_->NowMillis();
  std::lock_guard lock(mu_);
  auto it = entries_.find(tenant_id);
  return it != entries_.end() && now - it->second.fetched_at_ms < ttl_ms_;
}

void TenantSettingsCache::Invalidate(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  entries_.erase(tenant_id);
}

}  // namespace embedrec::api
