// /api/v1/auth: login, token refresh, logout, and who-am-I.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_fields.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

// The web console keeps its refresh token in an HttpOnly cookie (no script
// can read it, and it is sent to /api/v1/auth only), asked for with
// "cookie": true at login; the JSON answer then has no refresh_token.
constexpr std::string_view kRefreshCookie = "embedrec_refresh";

std::string CookieOf(const Request& req, std::string_view name) {
  std::string_view all = req.Header("cookie");
  while (!all.empty()) {
    const size_t semi = all.find(';');
    std::string_view part = all.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    all.remove_prefix(semi + 1);
  }
  return {};
}

// Set-Cookie for the refresh token (empty: cleared). Secure unless the
// console is reached on this machine over plain http.
std::string RefreshCookie(const Request& req, const std::string& token) {
  const std::string_view host = req.Header("host");
  const bool local = host.substr(0, 9) == "localhost" || host.substr(0, 9) == "127.0.0.1";
  return std::string(kRefreshCookie) + "=" + token + "; Path=/api/v1/auth; HttpOnly; SameSite=Strict" +
         (local ? "" : "; Secure") + (token.empty() ? "; Max-Age=0" : "; Max-Age=2592000");
}

json::object TokensJson(const auth::SessionTokens& t, bool cookie = false) {
  json::object o{{"access_token", t.access_token},
                 {"token_type", "Bearer"},
                      {"expires_in", t.expires_in},
                 {"user", json::object{{"id", t.user.id},
                                       {"email", t.user.email},
                                       {"tenant_id", t.user.tenant_id},
                                       {"role", t.user.role}}}};
  if (!cookie) o["refresh_token"] = t.refresh_token;
  return o;
}

// The answer with the token pair: in JSON, or the refresh token in the cookie.
http::Response TokensAnswer(const Request& req, const auth::SessionTokens& t, bool cookie) {
  http::Response r = JsonAnswer(200, TokensJson(t, cookie));
  if (cookie) r.headers.emplace_back("Set-Cookie", RefreshCookie(req, t.refresh_token));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The refresh token of a request: its body's, else the console's cookie.
StatusOr<std::pair<std::string, bool>> RefreshTokenOf(const Request& req) {
  ASSIGN_OR_RETURN(json::object body, ParseJsonObject(req, /*allow_empty=*/true));
  ASSIGN_OR_RETURN(auto token, OptString(body, "refresh_token", 512));
  if (token && !token->empty()) return std::pair<std::string, bool>(*token, false);
  std::string cookie = CookieOf(req, kRefreshCookie);
  if (cookie.empty()) {
    // A credential that is missing, like a bearer token: 401.
    return Status(StatusCode::kUnauthenticated,
                  "no refresh token: send refresh_token in the body (or the console's cookie)", "missing_credentials",
                  {{"field", "refresh_token"}});
  }
  return std::pair<std::string, bool>(std::move(cookie), true);
}

constexpr const char* kTokens = R"({"type":"object","required":["access_token","token_type","expires_in","user"],"properties":{
    "access_token":{"type":"string"},"refresh_token":{"type":"string"},"token_type":{"type":"string","enum":["Bearer"]},
    "expires_in":{"type":"integer"},"user":{"type":"object","required":["id","email","tenant_id","role"],"properties":{
    "id":{"type":"string"},"email":{"type":"string"},"tenant_id":{"type":"string"},"role":{"type":"string"}}}}})";
constexpr const char* kRefreshBody = R"({"type":"object","properties":{
    "refresh_token":{"type":"string","minLength":1,"maxLength":512,"description":"required unless the console's cookie holds it"}}})";

}  // namespace

void RegisterAuthRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;

  http::RouteInfo login{"POST", "/api/v1/auth/login",
                        "Exchange email and password for an access and a refresh token", "auth"};
  login.body_schema = R"({"type":"object","required":["email","password"],"properties":{
    "email":{"type":"string","maxLength":254},"password":{"type":"string","maxLength":1024},
    "cookie":{"type":"boolean","description":"keep the refresh token in an HttpOnly cookie instead of the answer, for the web console"}}})";
  login.replies = {schema::Reply(200, "signed in", kTokens)};
  login.errors = {401, 403, 429};
  AddPublic(router, login, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(std::string email, ReqString(body, "email", 254));
               ASSIGN_OR_RETURN(std::string password, ReqString(body, "password", 1024));
               ASSIGN_OR_RETURN(auto cookie, OptBool(body, "cookie"));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Login(email, password));
               return TokensAnswer(req, tokens, cookie.value_or(false));
             });

  http::RouteInfo refresh{"POST", "/api/v1/auth/refresh",
                          "Rotate a refresh token into a new token pair", "auth"};
  refresh.body_schema = kRefreshBody;
  refresh.replies = {schema::Reply(200, "a new token pair (the old refresh token is spent)", kTokens)};
  refresh.errors = {401};
  AddPublic(router, refresh, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto token, RefreshTokenOf(req));
               ASSIGN_OR_RETURN(auto tokens, d->sessions->Refresh(token.first));
               return TokensAnswer(req, tokens, token.second);
             });

  http::RouteInfo logout{"POST", "/api/v1/auth/logout",
                         "End a login: revoke its refresh token and every rotation of it", "auth"};
  logout.body_schema = kRefreshBody;
  logout.replies = {schema::NoContent("signed out")};
  AddPublic(router, logout, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto token, RefreshTokenOf(req));
               RETURN_IF_ERROR(d->sessions->Logout(token.first));
               http::Response r;
               r.status = 204;
               if (token.second) r.headers.emplace_back("Set-Cookie", RefreshCookie(req, ""));
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
