#include "auth/jwt.h"

#include <boost/json.hpp>

#include "common/json_text.h"
#include "common/random.h"

namespace embedrec::auth {
namespace json = boost::json;

namespace {
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

Status Bad(std::string msg) {
  return Status::Unauthenticated("invalid access token: " + std::move(msg))
      .WithReason("invalid_token");
}
}  // namespace

std::string SignJwt(const JwtClaims& c, std::string_view secret) {
  json::object payload{{"sub", c.sub}, {"tid", c.tid}, {"role", c.role},
                       {"jti", c.jti}, {"iat", c.iat}, {"exp", c.exp}};
  if (!c.sid.empty()) payload["sid"] = c.sid;
  std::string signing_input =
      Base64UrlEncode(kHeader) + "." + Base64UrlEncode(JsonText(payload));
  return signing_input + "." + Base64UrlEncode(HmacSha256(secret, signing_input));
}

StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s) {
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Bad("malformed");
  }
  std::string sig;
  if (!Base64UrlDecode(token.substr(d2 + 1), &sig)) return Bad("malformed signature");
  std::string expected = HmacSha256(secret, token.substr(0, d2));
  if (!ConstantTimeEquals(sig, expected)) return Bad("bad signature");

  std::string header, payload;
  if (!Base64UrlDecode(token.substr(0, d1), &header) ||
      !Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), &payload)) {
    return Bad("malformed");
  }
  boost::system::error_code ec;
  json::value h = json::parse(header, ec);
  if (ec || !h.is_object() || !h.as_object().contains("alg") ||
      h.as_object().at("alg") != "HS256") {
    return Bad("unsupported algorithm");
  }
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
