// /api/v1/admin/secrets: the platform admin rotates the keys signing access
// tokens (the replaced one verifies until the tokens it signed expire) and
// the admin token itself, without a restart (app/secrets.h).
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/strings.h"
#include "common/time_format.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

constexpr const char* kKeys = R"json({"type":"object","required":["keys","rotatable"],"properties":{
  "keys":{"type":"array","items":{"type":"object","required":["kid","current","created_at"],"properties":{
    "kid":{"type":"string"},"current":{"type":"boolean"},"created_at":{"type":"string"},
    "retired_at":{"type":"string","nullable":true},"verifies_until":{"type":"string","nullable":true}}}},
  "rotatable":{"type":"boolean","description":"false when EMBEDREC_JWT_SECRET sets the key (rotate it there, with EMBEDREC_JWT_PREVIOUS_SECRETS)"}}})json";

constexpr const char* kRotation = R"({"type":"object","properties":{
  "reason":{"type":"string","maxLength":200,"description":"why, for the server's log"}}})";

// The reason given for a rotation, for the log.
std::string Reason(const Request& req) {
  auto body = ParseJsonObject(req, /*allow_empty=*/true);
  if (!body.ok()) return "";
  auto reason = OptString(*body, "reason", 200);
  if (!reason.ok() || !*reason || HasControlChars(**reason, /*allow_line_breaks=*/false)) return "";  // one clean log line
  return **reason;
}

// The ring without its secrets.
json::object KeysJson(const auth::JwtKeyRing& ring, bool rotatable) {
  json::array keys;
  for (const auto& k : ring.keys()) {
    const bool current = k.retired_at_s == 0;
    keys.push_back(json::object{
        {"kid", k.kid},
        {"current", current},
        {"created_at", FormatRfc3339(k.created_at_s)},
        {"retired_at", current ? json::value(nullptr) : json::value(FormatRfc3339(k.retired_at_s))},
        {"verifies_until", current ? json::value(nullptr)
                                   : json::value(FormatRfc3339(k.retired_at_s + auth::kAccessTokenTtlSeconds))}});
  }
  return {{"keys", std::move(keys)}, {"rotatable", rotatable}};
}

}  // namespace

void RegisterSecretRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  http::RouteInfo list{"GET", "/api/v1/admin/secrets/jwt-keys",
                       "The keys that sign and verify access tokens, without their secrets (platform admin)",
                       "secrets"};
  list.replies = {schema::Reply(200, "the key ring", kKeys)};
  AddAuthed(router, list, deps, auth::kPlatformAdmin,
            [d](const Request&, const PathParams&, const auth::Principal&) -> StatusOr<http::Response> {
              return JsonAnswer(200, KeysJson(*d->authenticator->jwt_keys()->Get(), bool(d->rotate_jwt_keys)));
            });

  http::RouteInfo rotate{"POST", "/api/v1/admin/secrets/jwt-keys/rotate",
                         "A new key signs access tokens from now on; the replaced one verifies the tokens it "
                         "signed until they expire (platform admin)",
                         "secrets"};
  rotate.body_schema = kRotation;
  rotate.replies = {schema::Reply(200, "the key ring after the rotation", kKeys)};
  rotate.errors = {400, 409, 422};
  AddAuthed(router, rotate, deps, auth::kPlatformAdmin,
            [d](const Request& req, const PathParams&, const auth::Principal&) -> StatusOr<http::Response> {
              if (!d->rotate_jwt_keys) {
                return Status(StatusCode::kFailedPrecondition,
                              "EMBEDREC_JWT_SECRET sets the signing key: rotate it there (keep the old one in "
                              "EMBEDREC_JWT_PREVIOUS_SECRETS until its tokens expire)",
                              "jwt_secret_configured");
              }
              ASSIGN_OR_RETURN(auth::JwtKeyRing ring, d->rotate_jwt_keys(Reason(req)));
              return JsonAnswer(200, KeysJson(ring, true));
            });

  http::RouteInfo admin{"POST", "/api/v1/admin/secrets/admin-token/rotate",
                        "A new platform admin token, shown once; the old one is refused from now on (platform "
                        "admin)",
                        "secrets"};
  admin.body_schema = kRotation;
  admin.replies = {schema::Reply(200, "the new token (also written to the data directory's admin-token file)",
                                 R"({"type":"object","required":["admin_token"],"properties":{"admin_token":{"type":"string"}}})")};
  admin.errors = {400, 409, 422};
  AddAuthed(router, admin, deps, auth::kPlatformAdmin,
            [d](const Request& req, const PathParams&, const auth::Principal&) -> StatusOr<http::Response> {
              if (!d->rotate_admin_token) {
                return Status(StatusCode::kFailedPrecondition,
                              "EMBEDREC_ADMIN_TOKEN sets the admin token (it would come back at the next start): "
                              "change it there",
                              "admin_token_configured");
              }
              ASSIGN_OR_RETURN(std::string token, d->rotate_admin_token(Reason(req)));
              return JsonAnswer(200, json::object{{"admin_token", token}});
            });
}

}  // namespace embedrec::api
