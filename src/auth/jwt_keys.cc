#include "auth/jwt_keys.h"

#include <boost/json.hpp>

#include "common/json_text.h"
#include "common/random.h"

namespace embedrec::auth {
namespace json = boost::json;

JwtKeyRing JwtKeyRing::Single(std::string kid, std::string secret, int64_t now_s) {
  JwtKeyRing r;
  r.label_key_ = secret;
  r.keys_.push_back({std::move(kid), std::move(secret), now_s, 0});
  return r;
}

StatusOr<JwtKeyRing> JwtKeyRing::FromJson(std::string_view text) {
  json::object o = ParseJsonObject(text);
  const auto* keys = o.if_contains("keys");
  const auto* label = o.if_contains("label_key");
  if (!keys || !keys->is_array() || keys->as_array().empty() || !label || !label->is_string()) {
    return Status::FailedPrecondition("the JWT key ring is not readable");
  }
  JwtKeyRing r;
  r.label_key_ = std::string(label->as_string());
  for (const auto& k : keys->as_array()) {
    if (!k.is_object()) return Status::FailedPrecondition("the JWT key ring is not readable");
    const auto& ko = k.as_object();
    const auto* kid = ko.if_contains("kid");
    const auto* secret = ko.if_contains("secret");
    const auto* created = ko.if_contains("created_at");
    const auto* retired = ko.if_contains("retired_at");
    if (!kid || !kid->is_string() || !secret || !secret->is_string() || secret->as_string().size() < 32 ||
        !created || !created->is_int64() || !retired || !retired->is_int64()) {
      return Status::FailedPrecondition("the JWT key ring has a malformed key");
    }
    r.keys_.push_back({std::string(kid->as_string()), std::string(secret->as_string()), created->as_int64(),
                       retired->as_int64()});
  }
  if (r.keys_.back().retired_at_s != 0) return Status::FailedPrecondition("the JWT key ring has no current key");
  return r;
}

std::string JwtKeyRing::ToJson() const {
  json::array keys;
  for (const auto& k : keys_) {
    keys.push_back(json::object{{"kid", k.kid}, {"secret", k.secret}, {"created_at", k.created_at_s},
                                {"retired_at", k.retired_at_s}});
  }
  return JsonText(json::object{{"keys", std::move(keys)}, {"label_key", label_key_}});
}

JwtKeyRing JwtKeyRing::Rotated(std::string kid, std::string secret, int64_t now_s, int64_t grace_s) const {
  JwtKeyRing r;
  r.label_key_ = label_key_;
  for (JwtKey k : keys_) {
    if (k.retired_at_s == 0) k.retired_at_s = now_s;
    if (k.retired_at_s + grace_s >= now_s) r.keys_.push_back(std::move(k));
  }
  r.keys_.push_back({std::move(kid), std::move(secret), now_s, 0});
  return r;
}

JwtKeyRing JwtKeyRing::WithRetired(std::string kid, std::string secret, int64_t now_s) const {
  JwtKeyRing r = *this;
  r.keys_.insert(r.keys_.begin(), JwtKey{std::move(kid), std::move(secret), now_s, now_s});
  return r;
}

const std::string* JwtKeyRing::SecretFor(std::string_view kid, int64_t now_s, int64_t grace_s) const {
  for (const auto& k : keys_) {
    // A token from before key ids: the oldest key.
    if (kid.empty() || k.kid == kid) {
      return k.retired_at_s == 0 || now_s <= k.retired_at_s + grace_s ? &k.secret : nullptr;
    }
  }
  return nullptr;
}

std::string NewJwtKeyId() { return "k" + RandomBase62(10); }

}  // namespace embedrec::auth
