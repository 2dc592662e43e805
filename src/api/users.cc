// /api/v1/admin/users: tenant users. The platform admin manages any tenant's
// users; a tenant admin manages its own tenant's.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <regex>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "auth/password.h"
#include "common/random.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

// A pragmatic address check: local@domain.tld, no spaces, ASCII domain.
bool ValidEmail(const std::string& e) {
  static const std::regex kEmail(
      R"(^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$)");
  return e.size() <= 254 && std::regex_match(e, kEmail);
}

json::object UserJson(const store::UserRecord& u) {
  json::object o{{"id", u.id},         {"email", u.email},   {"tenant_id", u.tenant_id},
                 {"role", u.role},     {"status", u.status},
                 {"created_at", FormatRfc3339(u.created_at_ms / 1000)}};
  o["last_login_at"] = u.last_login_at_ms ? json::value(FormatRfc3339(*u.last_login_at_ms / 1000))
                                          : json::value(nullptr);
  return o;
}

// The user `id` if the caller may manage it; users of other tenants are
// reported as absent so their existence does not leak.
StatusOr<store::UserRecord> ManagedUser(const PlatformDeps& d, const auth::Principal& who,
                                        const std::string& id) {
  auto u = d.control->GetUser(id);
  if (!u.ok() || (who.kind != auth::Principal::Kind::kPlatformAdmin &&
                  u->tenant_id != who.tenant_id)) {
    if (!u.ok() && u.status().code() != StatusCode::kNotFound) return u.status();
    return Status::NotFound("user '" + id + "' does not exist");
  }
  return u;
}

constexpr const char* kUser = R"({"type":"object","required":["id","email","tenant_id","role","status","created_at","last_login_at"],"properties":{
  "id":{"type":"string"},"email":{"type":"string"},"tenant_id":{"type":"string"},
  "role":{"type":"string","enum":["admin","member","viewer"]},"status":{"type":"string","enum":["active","inactive"]},
  "created_at":{"type":"string"},"last_login_at":{"type":"string","nullable":true}}})";

http::Param UserId() { return schema::Path("id", 64, "the user's id"); }

}  // namespace

void RegisterUserRoutes(http::Router& router, TenantRoutes& routes, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  using auth::kManageUsers;

  http::RouteInfo create{"POST", "/api/v1/admin/users", "Create a user (platform admin, or a tenant admin)", "users"};
  create.body_schema = R"({"type":"object","required":["email","password"],"properties":{
    "email":{"type":"string","maxLength":254},"password":{"type":"string","maxLength":1024,"description":"at least 12 characters, not common, not the email"},
    "role":{"type":"string","maxLength":32,"description":"admin, member (default) or viewer"}}})";
  create.replies = {schema::Reply(201, "created", kUser)};
  create.errors = {409};
  routes.AddJson(create, {.all = kManageUsers},
      [](const Request&, const PathParams&, TenantContext& ctx,
         const json::object& body) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(std::string email, ReqString(body, "email", 254));
        ASSIGN_OR_RETURN(std::string password, ReqString(body, "password", 1024));
        ASSIGN_OR_RETURN(auto role, OptString(body, "role", 32));
        email = std::string(Trim(email));
        if (!ValidEmail(email)) {
          return FieldValueError("email", "email must be a valid address like name@example.com")
              .WithReason("invalid_email");
        }
        std::string r = role.value_or("member");
        if (!auth::IsValidRole(r)) {
          return FieldValueError("role", "role must be one of admin, member, viewer");
        }
        RETURN_IF_ERROR(auth::CheckPasswordStrength(password, email));
        ASSIGN_OR_RETURN(auto tenant, ctx.Record());
        ASSIGN_OR_RETURN(std::string hash, auth::HashPassword(password));
        store::UserRecord u{NewId("usr"), email, AsciiLower(email), tenant.id, r,
                            "active", hash, ctx.NowMillis(), std::nullopt};
        RETURN_IF_ERROR(ctx.CreateUser(u));
        spdlog::info("created user {} in tenant {} by {}", u.id, u.tenant_id, ctx.who().Describe());
        return JsonAnswer(201, UserJson(u));
      });

  http::RouteInfo list{"GET", "/api/v1/admin/users",
                       "List a tenant's users (platform admin with ?tenant_id=, or a tenant admin)", "users"};
  list.replies = {schema::Reply(200, "the tenant's users",
                                std::string(R"({"type":"object","required":["users"],"properties":{"users":{"type":"array","items":)") +
                                    kUser + "}}}")};
  routes.Add(list, {.all = kManageUsers},
             [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto users, ctx.Users());
               json::array items;
               for (const auto& u : users) items.push_back(UserJson(u));
               return JsonAnswer(200, json::object{{"users", std::move(items)}});
             });

  http::RouteInfo get{"GET", "/api/v1/admin/users/{id}", "Get a user", "users"};
  get.params = {UserId()};
  get.replies = {schema::Reply(200, "the user", kUser)};
  get.errors = {404};
  AddAuthed(router, get, deps, kManageUsers,
                    [d](const Request&, const PathParams& p,
                        const auth::Principal& who) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto u, ManagedUser(*d, who, p.Get("id")));
                      return JsonAnswer(200, UserJson(u));
                    });

  http::RouteInfo change{"PATCH", "/api/v1/admin/users/{id}",
                         "Change a user's role or status (status 'inactive' deactivates and ends its sessions)",
                         "users"};
  change.params = {UserId()};
  change.body_schema = R"({"type":"object","properties":{"role":{"type":"string","maxLength":32,"description":"admin, member or viewer"},
    "status":{"type":"string","maxLength":32,"description":"active or inactive"},
    "password":{"type":"string","maxLength":1024,"description":"a new password; ends the user's sessions"}}})";
  change.replies = {schema::Reply(200, "the user as changed", kUser)};
  change.errors = {404, 422};
  AddAuthed(router, change, deps, kManageUsers,
             [d](const Request& req, const PathParams& p,
                 const auth::Principal& who) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               RETURN_IF_ERROR(OnlyFields(body, {"role", "status", "password"}));
               ASSIGN_OR_RETURN(auto u, ManagedUser(*d, who, p.Get("id")));
               ASSIGN_OR_RETURN(auto role, OptString(body, "role", 32));
               ASSIGN_OR_RETURN(auto status, OptString(body, "status", 32));
               ASSIGN_OR_RETURN(auto password, OptString(body, "password", 1024));
               if (role) {
                 if (!auth::IsValidRole(*role)) {
                   return FieldValueError("role", "role must be one of admin, member, viewer");
                 }
                 u.role = *role;
               }
               if (status) {
                 if (*status != "active" && *status != "inactive") {
                   return FieldValueError("status", "status must be 'active' or 'inactive'");
                 }
                 u.status = *status;
               }
               if (password) {
                 RETURN_IF_ERROR(auth::CheckPasswordStrength(*password, u.email));
                 ASSIGN_OR_RETURN(u.password_hash, auth::HashPassword(*password));
               }
               RETURN_IF_ERROR(d->control->UpdateUser(u));
               if (u.status != "active" || password) {
                 RETURN_IF_ERROR(d->control->RevokeUserTokens(u.id));
               }
               d->authenticator->Invalidate();
               return JsonAnswer(200, UserJson(u));
             });
}

}  // namespace embedrec::api
