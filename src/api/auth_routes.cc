// /api/v1/auth: login, token refresh, logout, and who-am-I.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

json::object TokensJson(const auth::SessionTokens& t) {
  return json::object{{"access_token", t.access_token},
                      {"refresh_token", t.refresh_token},
                      {"token_type", "Bearer"},
                      {"expires_in", t.expires_in},
                      {"user", json::object{{"id", t.user.id},
                                            {"email", t.user.email},
                                            {"tenant_id", t.user.tenant_id},
                                            {"role", t.user.role}}}};
}

}  // namespace

void RegisterAuthRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;

  http::RouteInfo login{"POST", "/api/v1/auth/login",
                        "Exchange email and password for an access and a refresh token", "auth"};
  login.authenticated = false;
  AddPublic(router, login, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string email, ReqString(body, "email", 254));
               ASSIGN_OR_RETURN(std::string password, ReqString(body, "password", 1024));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Login(email, password));
               return JsonAnswer(200, TokensJson(tokens));
             });

  http::RouteInfo refresh{"POST", "/api/v1/auth/refresh",
                          "Rotate a refresh token into a new token pair", "auth"};
  refresh.authenticated = false;
  AddPublic(router, refresh, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string token, ReqString(body, "refresh_token", 512));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Refresh(token));
               return JsonAnswer(200, TokensJson(tokens));
             });

  http::RouteInfo logout{"POST", "/api/v1/auth/logout",
                         "End a login: revoke its refresh token and every rotation of it", "auth"};
  logout.authenticated = false;
  AddPublic(router, logout, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string token, ReqString(body, "refresh_token", 512));
               RETURN_IF_ERROR(d->sessions->Logout(token));
               http::Response r;
               r.status = 204;
               return r;
             });

  AddAuthed(router, {"GET", "/api/v1/auth/me", "Describe the caller's credentials", "auth"}, deps, 0,
                    [](const Request&, const PathParams&,
                       const auth::Principal& who) -> StatusOr<http::Response> {
                      json::array perms;
                      for (uint32_t bit = 1; bit <= auth::kPlatformAdmin; bit <<= 1) {
                        if (who.permissions & bit) perms.push_back(json::string(auth::PermissionName(bit)));
                      }
                      const char* kind =
                          who.kind == auth::Principal::Kind::kPlatformAdmin ? "platform_admin"
                          : who.kind == auth::Principal::Kind::kUser        ? "user"
                                                                            : "api_key";
                      json::object o{{"kind", kind}, {"permissions", std::move(perms)}};
                      if (!who.tenant_id.empty()) o["tenant_id"] = who.tenant_id;
                      if (!who.user_id.empty()) o["user_id"] = who.user_id;
                      if (!who.key_id.empty()) o["api_key_id"] = who.key_id;
                      if (!who.role.empty()) o["role"] = who.role;
                      return JsonAnswer(200, o);
                    });
}

}  // namespace embedrec::api
