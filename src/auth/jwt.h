// JSON Web Tokens (RFC 7519), HS256 only, for user access tokens.
#pragma once

#include <cstdint>
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

std::string SignJwt(const JwtClaims& claims, std::string_view secret);

// Verifies signature (constant time), header (alg must be HS256) and expiry
// against `now_s`. kUnauthenticated with a reason on any failure.
StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::string_view secret, int64_t now_s);

}  // namespace embedrec::auth
