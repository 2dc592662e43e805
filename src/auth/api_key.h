// API keys and other opaque bearer secrets.
#pragma once

#include <string>
#include <string_view>

namespace embedrec::auth {

inline constexpr std::string_view kApiKeyPrefix = "sk_live_";
// A publishable key (for a shop's web pages): recommendations:read and
// interactions:write at most, accepted only from the tenant's allowed origins.
inline constexpr std::string_view kPublishableKeyPrefix = "pk_live_";
inline constexpr size_t kApiKeyRandomChars = 40;  // base62: ~238 bits
inline constexpr size_t kApiKeyDisplayPrefix = 11;

struct GeneratedApiKey {
  std::string key;     // shown to the user once
  std::string prefix;  // first 11 characters, stored for display
  std::string hash;    // stored
};

GeneratedApiKey GenerateApiKey(bool publishable = false);

// True for "sk_live_" or "pk_live_" followed by base62 characters only.
bool LooksLikeApiKey(std::string_view token);
// True for a publishable key, or its stored display prefix.
inline bool IsPublishable(std::string_view key_or_prefix) {
  return key_or_prefix.substr(0, kPublishableKeyPrefix.size()) == kPublishableKeyPrefix;
}

// Hex SHA-256 of a high-entropy secret (API key, refresh token, admin token).
// A plain hash suffices: the secrets are random, so there is nothing to brute-force.
std::string HashSecret(std::string_view secret);

// A new opaque refresh token (43 base64url characters, 256 bits).
std::string GenerateRefreshToken();

}  // namespace embedrec::auth
