// /api/v1/auth: login, token refresh, logout, and who-am-I.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"

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

constexpr const char* kTokens = R"({"type":"object","required":["access_token","refresh_token","token_type","expires_in","user"],"properties":{
    "access_token":{"type":"string"},"refresh_token":{"type":"string"},"token_type":{"type":"string","enum":["Bearer"]},
    "expires_in":{"type":"integer"},"user":{"type":"object","required":["id","email","tenant_id","role"],"properties":{
    "id":{"type":"string"},"email":{"type":"string"},"tenant_id":{"type":"string"},"role":{"type":"string"}}}}})";
constexpr const char* kRefreshBody = R"({"type":"object","required":["refresh_token"],"properties":{
    "refresh_token":{"type":"string","minLength":1,"maxLength":512}}})";

}  // namespace

void RegisterAuthRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;

  http::RouteInfo login{"POST", "/api/v1/auth/login",
                        "Exchange email and password for an access and a refresh token", "auth"};
  login.body_schema = R"({"type":"object","required":["email","password"],"properties":{
    "email":{"type":"string","maxLength":254},"password":{"type":"string","maxLength":1024}}})";
  login.replies = {schema::Reply(200, "signed in", kTokens)};
  login.errors = {401, 403, 429};
  AddPublic(router, login, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string email, ReqString(body, "email", 254));
               ASSIGN_OR_RETURN(std::string password, ReqString(body, "password", 1024));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Login(email, password));
               return JsonAnswer(200, TokensJson(tokens));
             });

  http::RouteInfo refresh{"POST", "/api/v1/auth/refresh",
                          "Rotate a refresh token into a new token pair", "auth"};
  refresh.body_schema = kRefreshBody;
  refresh.replies = {schema::Reply(200, "a new token pair (the old refresh token is spent)", kTokens)};
  refresh.errors = {401};
  AddPublic(router, refresh, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string token, ReqString(body, "refresh_token", 512));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Refresh(token));
               return JsonAnswer(200, TokensJson(tokens));
             });

  http::RouteInfo logout{"POST", "/api/v1/auth/logout",
                         "End a login: revoke its refresh token and every rotation of it", "auth"};
  logout.body_schema = kRefreshBody;
  logout.replies = {schema::NoContent("signed out")};
  AddPublic(router, logout, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string token, ReqString(body, "refresh_token", 512));
               RETURN_IF_ERROR(d->sessions->Logout(token));
               http::Response r;
               r.status = 204;
               return r;
             });

  http::RouteInfo me{"GET", "/api/v1/auth/me", "Describe the caller's credentials", "auth"};
  me.replies = {schema::Reply(200, "the caller", R"({"type":"object","required":["kind","permissions"],"properties":{
    "kind":{"type":"string","enum":["platform_admin","user","api_key"]},"permissions":{"type":"array","items":{"type":"string"}},
    "tenant_id":{"type":"string"},"user_id":{"type":"string"},"api_key_id":{"type":"string"},"role":{"type":"string"}}})")};
  AddAuthed(router, me, deps, 0,
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
