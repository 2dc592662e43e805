// /api/v1/api-keys: a tenant admin creates, lists and revokes API keys.
// An API key listing keys sees only itself (introspection): a key embedded
// in a website must not reveal the tenant's other keys.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
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
                 {"type", auth::IsPublishable(k.key_prefix) ? "publishable" : "secret"},
                 {"scopes", std::move(scopes)},
                 {"tenant_id", k.tenant_id},
                 {"created_at", FormatRfc3339(k.created_at_ms / 1000)}};
  o["last_used_at"] = k.last_used_at_ms ? json::value(FormatRfc3339(*k.last_used_at_ms / 1000))
                                        : json::value(nullptr);
  o["expires_at"] = k.expires_at_ms ? json::value(FormatRfc3339(*k.expires_at_ms / 1000)) : json::value(nullptr);
  return o;
}

// When a new key stops working: `expires_at` (RFC 3339, in the future) or
// `expires_in_days`; none: never (until revoked). At most ten years ahead.
StatusOr<std::optional<int64_t>> ParseExpiry(const json::object& body, int64_t now_ms) {
  constexpr int64_t kDayMs = 86'400'000, kMaxDays = 3650;
  ASSIGN_OR_RETURN(auto days, OptInt(body, "expires_in_days", 1, kMaxDays));
  ASSIGN_OR_RETURN(auto at_text, OptString(body, "expires_at", 64));
  if (days && at_text) return FieldValueError("expires_at", "send expires_at or expires_in_days, not both");
  if (days) return std::optional<int64_t>(now_ms + *days * kDayMs);
  if (!at_text) return std::optional<int64_t>();
  auto at = ParseRfc3339Millis(*at_text);
  if (!at) return FieldValueError("expires_at", "expires_at must be RFC 3339 with a zone (2025-01-31T00:00:00Z)");
  if (*at <= now_ms) return FieldValueError("expires_at", "expires_at must be in the future");
  if (*at > now_ms + kMaxDays * kDayMs) return FieldValueError("expires_at", "expires_at is more than ten years ahead");
  return std::optional<int64_t>(*at);
}

// A publishable key's scopes: at most these (for a shop's web pages).
const std::vector<std::string>& PublishableScopes() {
  static const std::vector<std::string> s = {"recommendations:read", "interactions:write"};
  return s;
}

StatusOr<std::vector<std::string>> ParseScopes(const json::object& body, bool publishable) {
  const json::value* v = body.if_contains("scopes");
  if (!v && publishable) return PublishableScopes();
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
  for (const auto& name : out) {
    if (publishable && std::find(PublishableScopes().begin(), PublishableScopes().end(), name) ==
                           PublishableScopes().end()) {
      return FieldValueError("scopes", "a publishable key may hold recommendations:read and interactions:write "
                                       "only, not '" + name + "'");
    }
  }
  return out;
}

constexpr const char* kKey = R"({"type":"object","required":["id","name","key_prefix","type","scopes","tenant_id","created_at","last_used_at"],
  "properties":{"id":{"type":"string"},"name":{"type":"string"},"key_prefix":{"type":"string"},
  "type":{"type":"string","enum":["secret","publishable"]},
  "scopes":{"type":"array","items":{"type":"string"}},"tenant_id":{"type":"string"},"created_at":{"type":"string"},
  "last_used_at":{"type":"string","nullable":true},
  "expires_at":{"type":"string","nullable":true,"description":"when it stops working; null: never, until revoked"},
  "api_key":{"type":"string","description":"the secret, only when created"}}})";

}  // namespace

void RegisterApiKeyRoutes(TenantRoutes& routes) {
  using auth::kManageKeys;

  http::RouteInfo create{"POST", "/api/v1/api-keys", "Create an API key; the secret is shown only in this answer",
                         "api_keys"};
  create.body_schema = R"json({"type":"object","required":["name"],"properties":{
    "name":{"type":"string","maxLength":200},
    "type":{"type":"string","enum":["secret","publishable"],"description":"secret (default: sk_live_, for servers) or publishable (pk_live_, for a shop's web pages: recommendations:read and interactions:write at most, accepted only from the tenant's settings.allowed_origins)"},
    "scopes":{"type":"array","items":{"type":"string"},"description":"recommendations:read, interactions:write, data:write, models:train, models:read, analytics:read (required for a secret key; a publishable key's default: the first two)"},
    "expires_at":{"type":"string","maxLength":64,"description":"RFC 3339, in the future, at most ten years ahead; default: never"},
    "expires_in_days":{"type":"integer","minimum":1,"maximum":3650,"description":"instead of expires_at"}}})json";
  create.replies = {schema::Reply(201, "the key with its secret (api_key), shown once", kKey)};
  routes.AddJson(create, {.all = kManageKeys},
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
                   ASSIGN_OR_RETURN(std::string name, ReqString(body, "name", 200));
                   if (Trim(name).empty()) return FieldValueError("name", "name must not be blank");
                   ASSIGN_OR_RETURN(auto type, OptString(body, "type", 16));
                   const bool publishable = type && *type == "publishable";
                   if (type && !publishable && *type != "secret") {
                     return FieldValueError("type", "type must be secret or publishable");
                   }
                   ASSIGN_OR_RETURN(auto scopes, ParseScopes(body, publishable));
                   ASSIGN_OR_RETURN(auto expires, ParseExpiry(body, ctx.NowMillis()));
                   ASSIGN_OR_RETURN(auto tenant, ctx.Record());
                   const auth::Principal& who = ctx.who();
                   auth::GeneratedApiKey gen = auth::GenerateApiKey(publishable);
                   store::ApiKeyRecord k{NewId("key"), tenant.id, std::string(Trim(name)), gen.prefix,
                                         gen.hash, scopes, who.user_id.empty() ? "admin" : who.user_id,
                                         ctx.NowMillis(), std::nullopt, std::nullopt, expires};
                   RETURN_IF_ERROR(ctx.CreateApiKey(k));
                   spdlog::info("created api key {} for tenant {} by {}", k.id, k.tenant_id, who.Describe());
                   json::object o = KeyJson(k);
                   o["api_key"] = gen.key;
                   return JsonAnswer(201, o);
                 });

  http::RouteInfo list{"GET", "/api/v1/api-keys",
                       "List the tenant's API keys without secrets (an API key sees only itself)", "api_keys"};
  list.replies = {schema::Reply(200, "the keys, without secrets",
                                std::string(R"({"type":"object","required":["api_keys"],"properties":{"api_keys":{"type":"array","items":)") +
                                    kKey + "}}}")};
  routes.Add(list, {}, [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
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

  http::RouteInfo revoke{"DELETE", "/api/v1/api-keys/{id}", "Revoke an API key at once", "api_keys"};
  revoke.params = {schema::Path("id", 64, "the key's id")};
  revoke.replies = {schema::NoContent("revoked")};
  revoke.errors = {404};
  routes.Add(revoke, {.all = kManageKeys},
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               RETURN_IF_ERROR(ctx.RevokeApiKey(p.Get("id")));
               http::Response r;
               r.status = 204;
               return r;
             });
}

}  // namespace embedrec::api
