#include "tenants/tenant_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <regex>
#include <set>

#include "common/json_fields.h"
#include "common/json_text.h"
#include "common/random.h"
#include "common/strings.h"
#include "tenants/tenant_limits.h"
#include "training/job_request.h"
#include "serving/merchandising.h"
#include "training/retrain_policy.h"

namespace embedrec::tenants {
namespace json = boost::json;

namespace {

constexpr size_t kMaxSettingsBytes = 16 * 1024;
constexpr size_t kMaxNameChars = 200;

bool ValidSlug(const std::string& s) {
  static const std::regex kSlug("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$");
  return std::regex_match(s, kSlug) && s.find("--") == std::string::npos;
}

StatusOr<std::string> ValidName(const std::string& name) {
  std::string trimmed(Trim(name));
  if (trimmed.empty()) return FieldValueError("name", "name must not be blank");
  if (Utf8Length(trimmed) > kMaxNameChars) {
    return FieldValueError("name", "field 'name' must be at most 200 characters");
  }
  return trimmed;
}

// The settings the server reads (each checked below, or by the module named).
const std::vector<std::string_view> kKnownSettings = {
    "recommendation_model", "max_recommendations", "cache_ttl_seconds", "exclude_from_recommendations",
    "enable_real_time", "auto_create_items", "interaction_types", "training", "deploy_tolerance", "attribution",
    "allowed_origins", "rate_limit", "limits", "merchandising", "auto_retrain", "retrain_experiment",
    "retrain_interval_days", "retrain_min_new_interactions", "retrain_metric_drop", "full_retrain_every",
    "currency"};

}  // namespace

Status CheckSettingNames(const json::object& settings) {
  for (const auto& [key, value] : settings) {
    if (std::find(kKnownSettings.begin(), kKnownSettings.end(), std::string_view(key)) != kKnownSettings.end()) {
      continue;
    }
    if (!ClosestName(key, kKnownSettings).empty()) return UnknownFieldError("settings", key, kKnownSettings);
  }
  return Status::Ok();
}

StatusOr<json::object> NormalizeSettings(json::object s) {
  if (auto* v = s.if_contains("recommendation_model")) {
    if (!v->is_string()) return FieldTypeError("settings.recommendation_model", "a string");
    const auto& types = training::ModelTypes();
    if (std::find(types.begin(), types.end(), std::string_view(v->as_string())) == types.end()) {
      std::string list;
      for (const auto& t : types) list += (list.empty() ? "" : ", ") + t;
      return FieldValueError("settings.recommendation_model",
                             "settings.recommendation_model must be one of " + list);
    }
  } else {
    s["recommendation_model"] = "auto";  // the search chooses (training/auto_search.h)
  }
  ASSIGN_OR_RETURN(auto max_recs, OptInt(s, "max_recommendations", 1, 1000));
  s["max_recommendations"] = max_recs.value_or(50);
  ASSIGN_OR_RETURN(auto ttl, OptInt(s, "cache_ttl_seconds", 0, 86400));
  s["cache_ttl_seconds"] = ttl.value_or(300);
  if (auto* v = s.if_contains("exclude_from_recommendations")) {
    if (!v->is_string()) return FieldTypeError("settings.exclude_from_recommendations", "a string");
    static const std::set<std::string_view> kModes = {"auto", "purchased", "all_interacted", "none"};
    if (!kModes.count(v->as_string())) {
      return FieldValueError("settings.exclude_from_recommendations",
                             "settings.exclude_from_recommendations must be auto, purchased, "
                             "all_interacted or none");
    }
  } else {
    // purchases when the shop tracks them, else everything interacted with
    s["exclude_from_recommendations"] = "auto";
  }
  ASSIGN_OR_RETURN(auto rt, OptBool(s, "enable_real_time"));
  s["enable_real_time"] = rt.value_or(true);
  // Analytics' attribution windows (analytics/attribution.h).
  if (auto* v = s.if_contains("attribution"); v && !v->is_null()) {
    if (!v->is_object()) return FieldTypeError("settings.attribution", "an object");
    json::object& a = v->as_object();
    for (const auto& [key, value] : a) {
      if (key != "click_window_minutes" && key != "conversion_window_hours") {
        return UnknownFieldError("settings.attribution", key, {"click_window_minutes", "conversion_window_hours"});
      }
      if (!value.is_number()) return FieldTypeError("settings.attribution." + std::string(key), "a number");
    }
    auto in = [&](const char* key, double lo, double hi) -> Status {
      const json::value* x = a.if_contains(key);
      if (!x) return Status::Ok();
      const double d = x->to_number<double>();
      if (!(d >= lo && d <= hi)) {
        return FieldValueError(std::string("settings.attribution.") + key,
                               std::string("settings.attribution.") + key + " must be " + std::to_string(lo) +
                                   " to " + std::to_string(hi));
      }
      return Status::Ok();
    };
    RETURN_IF_ERROR(in("click_window_minutes", 0.001, 1440));
    RETURN_IF_ERROR(in("conversion_window_hours", 0.001, 720));
  }
  // The shop's currency, an ISO 4217 code ("eur" is taken as "EUR"): uploads
  // refuse amounts written in another (ingest/written_number.h).
  if (auto* v = s.if_contains("currency"); v && !v->is_null()) {
    if (!v->is_string()) return FieldTypeError("settings.currency", "a string");
    std::string code(v->as_string());
    for (char& ch : code) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
      return FieldValueError("settings.currency", "settings.currency must be an ISO 4217 code such as EUR or USD, not '" +
                                                      std::string(v->as_string()).substr(0, 20) + "'");
    }
    *v = code;
  }
  // The web origins whose pages may call the browser routes (CORS; api/tenant_routes.h).
  if (auto* v = s.if_contains("allowed_origins"); v && !v->is_null()) {
    if (!v->is_array()) return FieldTypeError("settings.allowed_origins", "an array of strings");
    if (v->as_array().size() > 100) {
      return FieldValueError("settings.allowed_origins", "settings.allowed_origins holds at most 100 origins");
    }
    static const std::regex kOrigin(R"(^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$)");
    for (const auto& o : v->as_array()) {
      if (!o.is_string()) return FieldTypeError("settings.allowed_origins", "an array of strings");
      const std::string origin(o.as_string());
      if (origin != "*" && !std::regex_match(origin, kOrigin)) {
        return FieldValueError("settings.allowed_origins",
                               "'" + origin.substr(0, 100) + "' is not an origin: scheme://host[:port] (no path), "
                               "or \"*\" (any site, for publishable keys)");
      }
    }
  }
  // Each API key's request rate (api/tenant_settings.h): null or absent for none.
  if (auto* v = s.if_contains("rate_limit"); v && !v->is_null()) {
    if (!v->is_object()) return FieldTypeError("settings.rate_limit", "an object");
    for (const auto& [key, value] : v->as_object()) {
      if (key != "requests_per_second" && key != "burst") {
        return UnknownFieldError("settings.rate_limit", key, {"requests_per_second", "burst"});
      }
      if (!value.is_number()) return FieldTypeError("settings.rate_limit." + std::string(key), "a number");
    }
    const json::value* rps = v->as_object().if_contains("requests_per_second");
    if (!rps) return FieldValueError("settings.rate_limit", "settings.rate_limit needs requests_per_second");
    const double r = rps->to_number<double>();
    if (!(r >= 0.01 && r <= 1e6)) {
      return FieldValueError("settings.rate_limit.requests_per_second",
                             "settings.rate_limit.requests_per_second must be 0.01 to 1000000");
    }
    if (const json::value* b = v->as_object().if_contains("burst")) {
      const double d = b->to_number<double>();
      if (!(d >= 1 && d <= 1e7)) {
        return FieldValueError("settings.rate_limit.burst", "settings.rate_limit.burst must be 1 to 10000000");
      }
    }
  }
  // The platform admin's limits for the tenant (tenants/tenant_limits.h).
  if (auto* v = s.if_contains("limits"); v && !v->is_null()) {
    if (!v->is_object()) return FieldTypeError("settings.limits", "an object");
    RETURN_IF_ERROR(ParseTenantLimits(v->as_object(), TenantLimits{}).status());
  }
  // Merchandising rules (serving/merchandising.h): checked here, read by serving.
  if (auto* m = s.if_contains("merchandising")) RETURN_IF_ERROR(serving::ParseMerchandising(*m).status());
  // Automatic retraining (training/retrain_policy.h): checked here, read by the scheduler.
  RETURN_IF_ERROR(training::ParseRetrainSettings(s).status());
  if (JsonText(s).size() > kMaxSettingsBytes) {
    return FieldValueError("settings", "settings must serialize to at most 16 KiB");
  }
  return s;
}

StatusOr<store::TenantRecord> TenantService::Create(NewTenant n) {
  ASSIGN_OR_RETURN(std::string name, ValidName(n.name));
  if (!ValidSlug(n.slug)) {
    return FieldValueError("slug",
                           "slug must be 1 to 63 lowercase letters, digits and single dashes, "
                           "starting and ending with a letter or digit");
  }
  RETURN_IF_ERROR(CheckSettingNames(n.settings));
  ASSIGN_OR_RETURN(auto settings, NormalizeSettings(std::move(n.settings)));
  const int64_t now = clock_->NowMillis();
  store::TenantRecord t{NewUuid(), name, n.slug, kActive, JsonText(settings), now, now};
  // The space first: a tenant that can be seen has one.
  RETURN_IF_ERROR(spaces_->Create(t.id));
  if (Status row = control_->CreateTenant(t); !row.ok()) {
    (void)spaces_->Drop(t.id);
    return row;
  }
  spdlog::info("created tenant {} ({})", t.id, t.slug);
  return t;
}

StatusOr<store::TenantRecord> TenantService::Get(const std::string& id) { return control_->GetTenant(id); }

StatusOr<store::TenantPage> TenantService::List(const std::string& cursor, int limit) {
  return control_->ListTenants(cursor, limit);
}

StatusOr<store::TenantRecord> TenantService::Change(const std::string& id, const TenantChange& change) {
  ASSIGN_OR_RETURN(auto t, control_->GetTenant(id));
  if (t.status == kDeleting) {
    return Status::FailedPrecondition("the tenant is being deleted; delete it again to finish");
  }
  if (change.name) {
    ASSIGN_OR_RETURN(t.name, ValidName(*change.name));
  }
  if (change.status) {
    if (*change.status != kActive && *change.status != kSuspended) {
      return FieldValueError("status", "status must be 'active' or 'suspended'");
    }
    t.status = *change.status;
  }
  if (change.settings_patch) {
    RETURN_IF_ERROR(CheckSettingNames(*change.settings_patch));
    boost::system::error_code ec;
    json::value stored = json::parse(t.settings_json, ec);
    json::object merged = !ec && stored.is_object() ? stored.as_object() : json::object();
    for (const auto& [k, v] : *change.settings_patch) {
      if (v.is_null()) merged.erase(k);
      else merged[k] = v;
    }
    ASSIGN_OR_RETURN(auto settings, NormalizeSettings(std::move(merged)));
    t.settings_json = JsonText(settings);
  }
  t.updated_at_ms = clock_->NowMillis();
  RETURN_IF_ERROR(control_->UpdateTenant(t));
  Changed(id);
  return t;
}

Status TenantService::Delete(const std::string& id) {
  ASSIGN_OR_RETURN(auto t, control_->GetTenant(id));
  // 1. Its credentials stop working (the authenticator admits active tenants only).
  if (t.status != kDeleting) {
    t.status = kDeleting;
    t.updated_at_ms = clock_->NowMillis();
    RETURN_IF_ERROR(control_->UpdateTenant(t));
    Changed(id);
  }
  // 2. Nothing writes its data any more (a job finishing later would write files again).
  for (const auto& h : hooks_) {
    if (h.stop) RETURN_IF_ERROR(h.stop(id));
  }
  // 3. Its data (files first: they are found from its store), then what is
  // held of it in memory.
  if (blobs_) RETURN_IF_ERROR(blobs_->Drop(id));
  RETURN_IF_ERROR(spaces_->Drop(id));
  for (const auto& h : hooks_) {
    if (h.deleted) h.deleted(id);
  }
  // 4. The row (with its users and keys) last: until here a retry finds it.
  RETURN_IF_ERROR(control_->DeleteTenant(id));
  Changed(id);
  spdlog::info("deleted tenant {}", id);
  return Status::Ok();
}

void TenantService::Changed(const std::string& id) {
  for (const auto& h : hooks_) {
    if (h.changed) h.changed(id);
  }
}

}  // namespace embedrec::tenants
