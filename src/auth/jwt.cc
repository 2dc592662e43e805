#include "auth/jwt.h"

#include <boost/json.hpp>

#include "common/json_text.h"
#include "common/random.h"

namespace embedrec::auth {
namespace json = boost::json;

namespace {
Status Bad(std::string msg) {
  return Status::Unauthenticated("invalid access token: " + std::move(msg))
      .WithReason("invalid_token");
}
}  // namespace

std::string SignJwt(const JwtClaims& c, std::string_view secret, std::string_view kid) {
  json::object payload{{"sub", c.sub}, {"tid", c.tid}, {"role", c.role},
                       {"jti", c.jti}, {"iat", c.iat}, {"exp", c.exp}};
  if (!c.sid.empty()) payload["sid"] = c.sid;
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  std::string signing_input = Base64UrlEncode(JsonText(header)) + "." + Base64UrlEncode(JsonText(payload));
  return signing_input + "." + Base64UrlEncode(HmacSha256(secret, signing_input));
}

StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s) {
  const std::string key(secret);
  return VerifyJwt(token, [&key](std::string_view) { return &key; }, now_s);
}

StatusOr<JwtClaims> VerifyJwt(std::string_view token, const JwtSecretFor& secret_for, int64_t now_s) {
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Bad("malformed");
  }
  // The header first: it names the key (and is covered by the signature
  // checked next, so nothing of it is trusted before that).
  std::string header;
  if (d1 > 1024 || !Base64UrlDecode(token.substr(0, d1), &header)) return Bad("malformed");
  boost::system::error_code ec;
  json::value h = json::parse(header, ec);
  if (ec || !h.is_object() || !h.as_object().contains("alg") ||
      h.as_object().at("alg") != "HS256") {
    return Bad("unsupported algorithm");
  }
  std::string_view kid;
  if (const auto* k = h.as_object().if_contains("kid")) {
    if (!k->is_string() || k->as_string().size() > 64) return Bad("malformed key id");
    kid = k->as_string();
  }
  const std::string* secret = secret_for(kid);
  if (!secret) {
    return Status::Unauthenticated("invalid access token: signed with a key this server does not (or no longer) "
                                   "accept; sign in again")
        .WithReason("unknown_key_id");
  }
  std::string sig;
  if (!Base64UrlDecode(token.substr(d2 + 1), &sig)) return Bad("malformed signature");
  std::string expected = HmacSha256(*secret, token.substr(0, d2));
  if (!ConstantTimeEquals(sig, expected)) return Bad("bad signature");

  std::string payload;
  if (!Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), &payload)) return Bad("malformed");
  json::value p = json::parse(payload, ec);
  if (ec || !p.is_object()) return Bad("malformed claims");
  const auto& o = p.as_object();
  JwtClaims c;
  auto str = [&](const char* k, std::string* out) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) return false;
    *out = std::string(v->as_string());
    return true;
  };
  auto num = [&](const char* k, int64_t* out) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_int64()) return false;
    *out = v->as_int64();
    return true;
  };
  if (!str("sub", &c.sub) || !str("tid", &c.tid) || !str("role", &c.role) ||
      !str("jti", &c.jti) || !num("iat", &c.iat) || !num("exp", &c.exp)) {
    return Bad("missing claims");
  }
  if (o.contains("sid") && !str("sid", &c.sid)) return Bad("malformed claims");
  if (now_s >= c.exp) {
    return Status::Unauthenticated("access token expired; refresh it").WithReason("token_expired");
  }
  return c;
}

}  // namespace embedrec::auth
