// /api/v1/api-keys: a tenant admin creates, lists and revokes API keys.
// An API key listing keys sees only itself (introspection): a key embedded
// in a website must not reveal the tenant's other keys.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "auth/api_key.h"
#include "common/random.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

json::object KeyJson(const store::ApiKeyRecord& k) {
  json::array scopes;
  for (const auto& s : k.scopes) scopes.push_back(json::string(s));
  json::object o{{"id", k.id},
                 {"name", k.name},
                 {"key_prefix", k.key_prefix},
                 {"scopes", std::move(scopes)},
                 {"tenant_id", k.tenant_id},
                 {"created_at", FormatRfc3339(k.created_at_ms / 1000)}};
  o["last_used_at"] = k.last_used_at_ms ? json::value(FormatRfc3339(*k.last_used_at_ms / 1000))
                                        : json::value(nullptr);
  return o;
}

StatusOr<std::vector<std::string>> ParseScopes(const json::object& body) {
  const json::value* v = body.if_contains("scopes");
  if (!v) {
    return Status::InvalidArgument("field 'scopes' is required", {{"field", "scopes"}})
        .WithReason("missing_field");
  }
  if (!v->is_array()) return FieldTypeError("scopes", "an array of strings");
  std::vector<std::string> out;
  std::string all;
  for (auto n : auth::ScopeNames()) all += (all.empty() ? "" : ", ") + std::string(n);
  for (const auto& s : v->as_array()) {
    if (!s.is_string()) return FieldTypeError("scopes", "an array of strings");
    std::string name(s.as_string());
    if (!auth::ParseScope(name)) {
      return FieldValueError("scopes", "unknown scope '" + name.substr(0, 64) + "'; valid: " + all);
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) return FieldValueError("scopes", "scopes must name at least one of: " + all);
  return out;
}

}  // namespace

void RegisterApiKeyRoutes(TenantRoutes& routes) {
  using auth::kManageKeys;

  routes.AddJson({"POST", "/api/v1/api-keys", "Create an API key; the secret is shown only in this answer",
                  "api_keys"},
                 {.all = kManageKeys},
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
                   ASSIGN_OR_RETURN(std::string name, ReqString(body, "name", 200));
                   if (Trim(name).empty()) return FieldValueError("name", "name must not be blank");
                   ASSIGN_OR_RETURN(auto scopes, ParseScopes(body));
                   ASSIGN_OR_RETURN(auto tenant, ctx.Record());
                   const auth::Principal& who = ctx.who();
                   auth::GeneratedApiKey gen = auth::GenerateApiKey();
                   store::ApiKeyRecord k{NewId("key"), tenant.id, std::string(Trim(name)), gen.prefix,
                                         gen.hash, scopes, who.user_id.empty() ? "admin" : who.user_id,
                                         ctx.NowMillis(), std::nullopt, std::nullopt};
                   RETURN_IF_ERROR(ctx.CreateApiKey(k));
                   spdlog::info("created api key {} for tenant {} by {}", k.id, k.tenant_id, who.Describe());
                   json::object o = KeyJson(k);
                   o["api_key"] = gen.key;
                   return JsonAnswer(201, o);
                 });

  routes.Add({"GET", "/api/v1/api-keys", "List the tenant's API keys without secrets (an API key sees only itself)",
              "api_keys"},
             {}, [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               const auth::Principal& who = ctx.who();
               if (who.kind == auth::Principal::Kind::kUser && !who.Has(kManageKeys)) {
                 RETURN_IF_ERROR(who.Require(kManageKeys));
               }
               ASSIGN_OR_RETURN(auto keys, ctx.ApiKeys());
               json::array items;
               for (const auto& k : keys) {
                 if (who.kind == auth::Principal::Kind::kApiKey && k.id != who.key_id) continue;
                 items.push_back(KeyJson(k));
               }
               return JsonAnswer(200, json::object{{"api_keys", std::move(items)}});
             });

  routes.Add({"DELETE", "/api/v1/api-keys/{id}", "Revoke an API key at once", "api_keys"}, {.all = kManageKeys},
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               RETURN_IF_ERROR(ctx.RevokeApiKey(p.Get("id")));
               http::Response r;
               r.status = 204;
               return r;
             });
}

}  // namespace embedrec::api
