// User sessions: login (password → access + refresh token), refresh with
// rotation and reuse detection, logout.
//
// Refresh tokens are opaque, stored hashed, and rotated on every refresh. All
// rotations of one login form a family; presenting a token that was already
// rotated (a sign it was stolen) revokes the whole family.
//
// Thread safety: safe for concurrent use; methods block (store, argon2id).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "auth/jwt_keys.h"
#include "auth/login_throttle.h"
#include "common/clock.h"
#include "store/control_store.h"

namespace embedrec::auth {

struct SessionTokens {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;  // seconds, of the access token
  store::UserRecord user;
};

class SessionService {
 public:
  struct Options {
    std::string jwt_secret;
    // Access tokens are signed with the current key of `jwt_keys`
    // (auth/jwt_keys.h), shared with the authenticator; when null, with
    // `jwt_secret`.
    std::shared_ptr<JwtKeys> jwt_keys;
    // Reads the keys again (another node may have rotated them); called
    // before signing at most every 30 s. May be null.
    std::function<void()> reload_jwt_keys;
    int64_t refresh_ttl_seconds = 30 * 24 * 3600;
    // Called after a login's tokens were revoked (logout, reuse of a rotated
    // refresh token): the authenticator forgets what it cached, on every node.
    std::function<void()> on_revoked;
  };
  SessionService(store::ControlStore* store, const Clock* clock, LoginThrottle* throttle,
                 Options options)
      : store_(store), clock_(clock), throttle_(throttle), options_(std::move(options)) {
    if (!options_.jwt_keys) {
      options_.jwt_keys = std::make_shared<JwtKeys>(JwtKeyRing::Single("k0", options_.jwt_secret, 0));
    }
  }

  // kUnauthenticated ("invalid_credentials") for a wrong email or password, alike;
  // kResourceExhausted with detail retry_after_seconds when throttled;
  // kPermissionDenied when the tenant is suspended.
  StatusOr<SessionTokens> Login(const std::string& email, const std::string& password);
  // kUnauthenticated for an unknown, expired, revoked or reused token.
  StatusOr<SessionTokens> Refresh(const std::string& refresh_token);
  // Revokes the token's family. OK for an unknown token (idempotent).
  Status Logout(const std::string& refresh_token);

 private:
  StatusOr<SessionTokens> Issue(const store::UserRecord& user, const std::string& family_id);

  store::ControlStore* store_;
  const Clock* clock_;
  LoginThrottle* throttle_;
  Options options_;
  OncePer keys_reload_{30'000};  // another node's rotation read back before signing
};

}  // namespace embedrec::auth
