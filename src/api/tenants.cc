// /api/v1/admin/tenants: the platform administrator creates, lists, changes
// and deletes tenants. A tenant's own users may read their tenant.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <regex>
#include <set>

#include "common/json_text.h"
#include "common/strings.h"

#include "api/call.h"
#include "serving/activity.h"
#include "serving/catalog.h"
#include "serving/deployed_models.h"
#include "training/training_service.h"
#include "api/json_body.h"
#include "common/random.h"
#include "common/time_format.h"

namespace embedrec::api {
namespace json = boost::json;
using http::Request;
using http::PathParams;

namespace {

constexpr size_t kMaxSettingsBytes = 16 * 1024;

bool ValidSlug(const std::string& s) {
  static const std::regex kSlug("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$");
  return std::regex_match(s, kSlug) && s.find("--") == std::string::npos;
}

// Validates the known settings and fills their defaults. Unknown keys are
// kept (room for settings later issues add), within a size bound.
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
  if (!max_recs && s.contains("max_recommendations") && !s.at("max_recommendations").is_null()) {
    return FieldTypeError("settings.max_recommendations", "an integer");
  }
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
  if (JsonText(s).size() > kMaxSettingsBytes) {
    return FieldValueError("settings", "settings must serialize to at most 16 KiB");
  }
  return s;
}

StatusOr<json::object> SettingsField(const json::object& body) {
  const json::value* v = body.if_contains("settings");
  if (!v || v->is_null()) return json::object();
  if (!v->is_object()) return FieldTypeError("settings", "an object");
  return v->as_object();
}

json::object TenantJson(const store::TenantRecord& t) {
  return json::object{{"id", t.id},
                      {"name", t.name},
                      {"slug", t.slug},
                      {"status", t.status},
                      {"settings", StoredJson(t.settings_json)},
                      {"created_at", FormatRfc3339(t.created_at_ms / 1000)},
                      {"updated_at", FormatRfc3339(t.updated_at_ms / 1000)}};
}

StatusOr<std::string> ValidName(const json::object& body, bool required) {
  std::optional<std::string> name;
  if (required) {
    ASSIGN_OR_RETURN(auto n, ReqString(body, "name", 200));
    name = std::move(n);
  } else {
    ASSIGN_OR_RETURN(name, OptString(body, "name", 200));
    if (!name) return std::string();
  }
  std::string trimmed(Trim(*name));
  if (trimmed.empty()) return FieldValueError("name", "name must not be blank");
  return trimmed;
}

}  // namespace

void RegisterTenantRoutes(http::Router& router, const Deps& deps) {
  const Deps* d = &deps;
  using auth::kPlatformAdmin;

  router.Add({"POST", "/api/v1/admin/tenants", "Create a tenant (platform admin)", "tenants"},
             Authed(deps, kPlatformAdmin,
                    [d](const Request& req, const PathParams&,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
                      ASSIGN_OR_RETURN(std::string name, ValidName(body, true));
                      ASSIGN_OR_RETURN(std::string slug, ReqString(body, "slug", 63));
                      if (!ValidSlug(slug)) {
                        return FieldValueError(
                            "slug",
                            "slug must be 1 to 63 lowercase letters, digits and single dashes, "
                            "starting and ending with a letter or digit");
                      }
                      ASSIGN_OR_RETURN(auto raw, SettingsField(body));
                      ASSIGN_OR_RETURN(auto settings, NormalizeSettings(std::move(raw)));
                      int64_t now = d->clock->NowMillis();
                      store::TenantRecord t{NewUuid(), name, slug, "active",
                                            JsonText(settings), now, now};
                      RETURN_IF_ERROR(d->control->CreateTenant(t));
                      Status space = d->tenants->Create(t.id);
                      if (!space.ok()) {
                        (void)d->control->DeleteTenant(t.id);
                        return space;
                      }
                      spdlog::info("created tenant {} ({})", t.id, t.slug);
                      return JsonAnswer(201, TenantJson(t));
                    }));

  router.Add({"GET", "/api/v1/admin/tenants", "List tenants, oldest first (platform admin)",
              "tenants"},
             Authed(deps, kPlatformAdmin,
                    [d](const Request& req, const PathParams&,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 50, 1, 500));
                      ASSIGN_OR_RETURN(auto page,
                                       d->control->ListTenants(req.Query("cursor").value_or(""),
                                                               static_cast<int>(limit)));
                      json::array items;
                      for (const auto& t : page.tenants) items.push_back(TenantJson(t));
                      json::object out{{"tenants", std::move(items)}, {"total", page.total}};
                      out["next_cursor"] = page.next_cursor ? json::value(*page.next_cursor)
                                                            : json::value(nullptr);
                      return JsonAnswer(200, out);
                    }));

  router.Add({"GET", "/api/v1/admin/tenants/{id}",
              "Get a tenant (platform admin, or a user or key of that tenant)", "tenants"},
             Authed(deps, 0,
                    [d](const Request&, const PathParams& p,
                        const auth::Principal& who) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(p.Get("id")));
                      ASSIGN_OR_RETURN(auto t, d->control->GetTenant(tid));
                      return JsonAnswer(200, TenantJson(t));
                    }));

  router.Add({"PATCH", "/api/v1/admin/tenants/{id}",
              "Change a tenant's name, settings or status (platform admin)", "tenants"},
             Authed(deps, kPlatformAdmin,
                    [d](const Request& req, const PathParams& p,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
                      ASSIGN_OR_RETURN(auto t, d->control->GetTenant(p.Get("id")));
                      ASSIGN_OR_RETURN(std::string name, ValidName(body, false));
                      if (!name.empty()) t.name = name;
                      ASSIGN_OR_RETURN(auto status, OptString(body, "status", 32));
                      if (status) {
                        if (*status != "active" && *status != "suspended") {
                          return FieldValueError("status", "status must be 'active' or 'suspended'");
                        }
                        t.status = *status;
                      }
                      if (body.contains("settings")) {
                        ASSIGN_OR_RETURN(auto patch, SettingsField(body));
                        // Merge: given keys replace, null removes.
                        json::object merged = json::parse(t.settings_json).as_object();
                        for (auto& [k, v] : patch) {
                          if (v.is_null()) merged.erase(k);
                          else merged[k] = v;
                        }
                        ASSIGN_OR_RETURN(auto settings, NormalizeSettings(std::move(merged)));
                        t.settings_json = JsonText(settings);
                      }
                      t.updated_at_ms = d->clock->NowMillis();
                      RETURN_IF_ERROR(d->control->UpdateTenant(t));
                      d->authenticator->Invalidate();  // status may have changed
                      d->settings->Invalidate(t.id);
                      return JsonAnswer(200, TenantJson(t));
                    }));

  router.Add({"DELETE", "/api/v1/admin/tenants/{id}",
              "Delete a tenant with all its users, keys and data (platform admin)", "tenants"},
             Authed(deps, kPlatformAdmin,
                    [d](const Request&, const PathParams& p,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      const std::string& id = p.Get("id");
                      RETURN_IF_ERROR(d->control->DeleteTenant(id));
                      d->authenticator->Invalidate();
                      d->settings->Invalidate(id);
                      // Nothing of the tenant may outlive it: its training job is
                      // stopped before the files go (a job finishing later would
                      // write them again), and serving forgets it.
                      if (d->training) RETURN_IF_ERROR(d->training->StopTenant(id));
                      RETURN_IF_ERROR(d->tenants->Drop(id));
                      if (d->deployed) d->deployed->Set(id, nullptr);
                      if (d->activity) d->activity->Drop(id);
                      if (d->catalog) d->catalog->Invalidate(id);
                      spdlog::info("deleted tenant {}", id);
                      http::Response r;
                      r.status = 204;
                      return r;
                    }));
}

}  // namespace embedrec::api
