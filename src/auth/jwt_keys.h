// The keys that sign and verify user access tokens (auth/jwt.h), by key id:
// the newest signs, and a key replaced by a rotation still verifies for
// `grace` seconds (an access token's lifetime), so no signed-in user is
// logged out by a rotation. A token without a key id (issued before key ids
// existed) is checked with the ring's oldest key.
//
// JwtKeys holds the ring in use; a rotation (or another node's, read back)
// swaps it whole.
//
// Thread safety: JwtKeyRing is an immutable value; JwtKeys is safe for
// concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::auth {

struct JwtKey {
  std::string kid;
  std::string secret;
  int64_t created_at_s = 0;
  int64_t retired_at_s = 0;  // 0: the current key; else verifies until retired_at_s + grace
};

class JwtKeyRing {
 public:
  // One key, the current one, made from `secret` (at least 32 characters).
  static JwtKeyRing Single(std::string kid, std::string secret, int64_t now_s);
  // As ToJson wrote it. kFailedPrecondition when it is not a ring.
  static StatusOr<JwtKeyRing> FromJson(std::string_view text);
  std::string ToJson() const;

  // A ring whose current key is {kid, secret}; the previous current key is
  // retired now; keys retired more than `grace_s` ago are dropped.
  JwtKeyRing Rotated(std::string kid, std::string secret, int64_t now_s, int64_t grace_s) const;
  // Adds a key that only verifies (retired now), e.g. a previous configured secret.
  JwtKeyRing WithRetired(std::string kid, std::string secret, int64_t now_s) const;

  const JwtKey& current() const { return keys_.back(); }
  // The secret checking a token whose header names `kid` ("": the oldest
  // key), or nullptr when no key of that id verifies at `now_s`.
  const std::string* SecretFor(std::string_view kid, int64_t now_s, int64_t grace_s) const;
  const std::vector<JwtKey>& keys() const { return keys_; }
  // A key for what must not change when the signing key does (the tenant
  // aliases on /metrics): the first key's secret, kept through rotations.
  const std::string& label_key() const { return label_key_; }

 private:
  std::vector<JwtKey> keys_;  // oldest first; the last is the current one
  std::string label_key_;
};

// A key id for a new key: "k" and 10 random base62 characters.
std::string NewJwtKeyId();

class JwtKeys {
 public:
  explicit JwtKeys(JwtKeyRing ring) : ring_(std::make_shared<const JwtKeyRing>(std::move(ring))) {}
  std::shared_ptr<const JwtKeyRing> Get() const { return ring_.load(); }
  void Set(JwtKeyRing ring) { ring_.store(std::make_shared<const JwtKeyRing>(std::move(ring))); }

 private:
  std::atomic<std::shared_ptr<const JwtKeyRing>> ring_;
};

}  // namespace embedrec::auth
