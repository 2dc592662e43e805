#include "auth/api_key.h"

#include "common/random.h"

namespace embedrec::auth {

GeneratedApiKey GenerateApiKey(bool publishable) {
  GeneratedApiKey k;
  k.key = std::string(publishable ? kPublishableKeyPrefix : kApiKeyPrefix) + RandomBase62(kApiKeyRandomChars);
  k.prefix = k.key.substr(0, kApiKeyDisplayPrefix);
  k.hash = HashSecret(k.key);
  return k;
}

bool LooksLikeApiKey(std::string_view token) {
  static_assert(kApiKeyPrefix.size() == kPublishableKeyPrefix.size());
  if (token.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix && !IsPublishable(token)) return false;
  if (token.size() <= kApiKeyPrefix.size() || token.size() > 256) return false;
  for (char c : token.substr(kApiKeyPrefix.size())) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) return false;
  }
  return true;
}

std::string HashSecret(std::string_view secret) { return HexEncode(Sha256(secret)); }

std::string GenerateRefreshToken() { return Base64UrlEncode(RandomBytes(32)); }

}  // namespace embedrec::auth
