// /api/v1/admin/tenants: the platform administrator creates, lists, changes
// and deletes tenants (tenants::TenantService). A tenant's own users may
// read their tenant.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "tenants/tenant_service.h"

namespace embedrec::api {
namespace json = boost::json;
using http::Request;
using http::PathParams;

namespace {

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

constexpr const char* kTenant = R"({"type":"object","required":["id","name","slug","status","settings","created_at","updated_at"],"properties":{
    "id":{"type":"string"},"name":{"type":"string"},"slug":{"type":"string"},"status":{"type":"string","enum":["active","suspended"]},
    "settings":{"type":"object"},"created_at":{"type":"string"},"updated_at":{"type":"string"},
    "metrics_label":{"type":"string","description":"GET of one tenant: how /metrics names it without the platform admin's token"},
    "limits":{"type":"object","description":"GET of one tenant: what it may use: settings.limits over the platform's defaults, 0 for no limit"}}})";
constexpr const char* kSettings = R"({"type":"object","description":"recommendation_model, max_recommendations, cache_ttl_seconds, exclude_from_recommendations, enable_real_time, auto_create_items, interaction_types, training, deploy_tolerance, attribution {click_window_minutes (default 30), conversion_window_hours (default 24)}, rate_limit {requests_per_second, burst} (per API key or user; none by default), limits {requests_per_second, burst, max_concurrent_uploads, max_upload_bytes, max_storage_bytes, max_rows, training_minutes_per_day} (the whole tenant's; platform admin only; 0: no limit); checked by the tenant service, at most 16 KiB; other names are kept as given, but one close to a known name is refused: 422 with did_you_mean"})";

http::Param TenantId() { return schema::Path("id", 64, "the tenant's id"); }

}  // namespace

void RegisterTenantRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  using auth::kPlatformAdmin;

  http::RouteInfo create{"POST", "/api/v1/admin/tenants", "Create a tenant (platform admin)", "tenants"};
  create.body_schema = std::string(R"({"type":"object","required":["name","slug"],"properties":{
    "name":{"type":"string","maxLength":200},"slug":{"type":"string","maxLength":63,"description":"lowercase letters, digits and dashes"},
    "settings":)") + kSettings + "}}";
  create.replies = {schema::Reply(201, "created, with its data space", kTenant)};
  create.errors = {409};
  AddAuthed(router, create, deps, kPlatformAdmin,
                    [d](const Request& req, const PathParams&,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
                      tenants::NewTenant n;
                      ASSIGN_OR_RETURN(n.name, ReqString(body, "name", 200));
                      ASSIGN_OR_RETURN(n.slug, ReqString(body, "slug", 63));
                      ASSIGN_OR_RETURN(n.settings, SettingsField(body));
                      ASSIGN_OR_RETURN(auto t, d->tenant_service->Create(std::move(n)));
                      return JsonAnswer(201, TenantJson(t));
                    });

  http::RouteInfo list{"GET", "/api/v1/admin/tenants", "List tenants, oldest first (platform admin)", "tenants"};
  list.params = {schema::QueryInt("limit", 1, 500, "tenants per page (default 50)"),
                 schema::QueryString("cursor", 256, "next_cursor of the previous page")};
  list.replies = {schema::Reply(200, "a page of tenants",
                                std::string(R"({"type":"object","required":["tenants","total","next_cursor"],"properties":{
    "tenants":{"type":"array","items":)") + kTenant + R"(},"total":{"type":"integer"},"next_cursor":{"type":"string","nullable":true}}})")};
  AddAuthed(router, list, deps, kPlatformAdmin,
                    [d](const Request& req, const PathParams&,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 50, 1, 500));
                      ASSIGN_OR_RETURN(auto page,
                                       d->tenant_service->List(req.Query("cursor").value_or(""),
                                                               static_cast<int>(limit)));
                      json::array items;
                      for (const auto& t : page.tenants) items.push_back(TenantJson(t));
                      json::object out{{"tenants", std::move(items)}, {"total", page.total}};
                      out["next_cursor"] = page.next_cursor ? json::value(*page.next_cursor)
                                                            : json::value(nullptr);
                      return JsonAnswer(200, out);
                    });

  http::RouteInfo get{"GET", "/api/v1/admin/tenants/{id}",
                      "Get a tenant (platform admin, or a user or key of that tenant)", "tenants"};
  get.params = {TenantId()};
  get.replies = {schema::Reply(200, "the tenant", kTenant)};
  get.errors = {404};
  AddAuthed(router, get, deps, 0,
                    [d](const Request&, const PathParams& p,
                        const auth::Principal& who) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(p.Get("id")));
                      ASSIGN_OR_RETURN(auto t, d->tenant_service->Get(tid));
                      json::object out = TenantJson(t);
                      // Its series on /metrics, for whoever reads them without the admin token.
                      out["metrics_label"] = MetricsTenantLabel(d->authenticator->label_key(), t.id);
                      // What it may use: settings.limits over the platform's defaults.
                      out["limits"] = tenants::TenantLimitsJson(
                          tenants::LimitsOf(embedrec::ParseJsonObject(t.settings_json), d->default_limits));
                      return JsonAnswer(200, out);
                    });

  http::RouteInfo change{"PATCH", "/api/v1/admin/tenants/{id}",
                         "Change a tenant's name, settings or status (platform admin); its settings (its "
                         "own admins)", "tenants"};
  change.params = {TenantId()};
  // A change refuses what it cannot change (a slug, an id) rather than ignore it.
  change.body_schema = std::string(R"({"type":"object","additionalProperties":false,"properties":{"name":{"type":"string","maxLength":200},
    "status":{"type":"string","maxLength":32,"description":"active or suspended"},"settings":)") + kSettings + "}}";
  change.replies = {schema::Reply(200, "the tenant as changed (settings are merged)", kTenant)};
  change.errors = {404};
  AddAuthed(router, change, deps, 0,
                    [d](const Request& req, const PathParams& p,
                        const auth::Principal& who) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
                      tenants::TenantChange change;
                      ASSIGN_OR_RETURN(change.name, OptString(body, "name", 200));
                      ASSIGN_OR_RETURN(change.status, OptString(body, "status", 32));
                      if (!who.Has(kPlatformAdmin)) {
                        // A tenant's admin (users:manage) changes its settings, nothing else.
                        ASSIGN_OR_RETURN(std::string own, who.ResolveTenant(p.Get("id")));
                        (void)own;
                        RETURN_IF_ERROR(who.Require(auth::kManageUsers));
                        if (change.name || change.status) RETURN_IF_ERROR(who.Require(kPlatformAdmin));
                      }
                      if (body.contains("settings")) {
                        ASSIGN_OR_RETURN(change.settings_patch, SettingsField(body));
                        // What the tenant may use is the platform's to say.
                        if (change.settings_patch->contains("limits") && !who.Has(kPlatformAdmin)) {
                          return Status::PermissionDenied(
                                     "settings.limits are set by the platform admin")
                              .WithReason("platform_admin_only");
                        }
                      }
                      ASSIGN_OR_RETURN(auto t, d->tenant_service->Change(p.Get("id"), change));
                      return JsonAnswer(200, TenantJson(t));
                    });

  http::RouteInfo remove{"DELETE", "/api/v1/admin/tenants/{id}",
                         "Delete a tenant with all its users, keys and data (platform admin)", "tenants"};
  remove.slow = true;  // stops its job, removes its files
  remove.params = {TenantId()};
  remove.replies = {schema::NoContent("deleted with all its data")};
  remove.errors = {404};
  AddAuthed(router, remove, deps, kPlatformAdmin,
                    [d](const Request&, const PathParams& p,
                        const auth::Principal&) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(d->tenant_service->Delete(p.Get("id")));
                      http::Response r;
                      r.status = 204;
                      return r;
                    });
}

}  // namespace embedrec::api
