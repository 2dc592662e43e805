// JSON Web Tokens (RFC 7519), HS256 only, for user access tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec::auth {

struct JwtClaims {
  std::string sub;   // user id
  std::string tid;   // tenant id
  std::string role;  // user role at issue time
  std::string jti;   // unique token id
  int64_t iat = 0;   // issued at, Unix seconds
  int64_t exp = 0;   // expires at, Unix seconds
  std::string sid;   // the login it belongs to (its refresh tokens' family); "" in older tokens
};

inline constexpr int64_t kAccessTokenTtlSeconds = 900;

// `kid` (may be empty) names the key in the header (auth/jwt_keys.h).
std::string SignJwt(const JwtClaims& claims, std::string_view secret, std::string_view kid = "");

// The secret of the key a token's header names ("" when it names none), or
// nullptr for a key that does not verify (unknown, or retired too long ago).
using JwtSecretFor = std::function<const std::string*(std::string_view kid)>;

// Verifies header (alg must be HS256; kid at most 64 characters), signature
// (constant time, with the key the header names) and expiry against
// `now_s`. kUnauthenticated with a reason on any failure: unknown_key_id
// when no key of the header's kid verifies, invalid_token or token_expired
// otherwise.
StatusOr<JwtClaims> VerifyJwt(std::string_view token, const JwtSecretFor& secret_for, int64_t now_s);
// With one key, whatever the header's kid.
StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s);

}  // namespace embedrec::auth
