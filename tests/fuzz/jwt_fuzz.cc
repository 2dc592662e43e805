// JWT verification (auth/jwt.h) on any token text; and, so the claims parser
// is reached at all, any payload bytes under a valid HS256 signature. A token
// that verifies must re-sign to the same claims.
#include <sodium.h>

#include <string>

#include "auth/jwt.h"
#include "fuzz_input.h"

namespace {
constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

std::string Sign(std::string_view signing_input) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(kSecret.data()), kSecret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                signing_input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return Base64Url(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

void CheckRoundTrip(const embedrec::StatusOr<embedrec::auth::JwtClaims>& claims, int64_t now) {
  if (!claims.ok()) return;
  auto again = embedrec::auth::VerifyJwt(embedrec::auth::SignJwt(*claims, kSecret), kSecret, now);
  embedrec::fuzz::Check(again.ok() && again->sub == claims->sub && again->tid == claims->tid &&
                        again->jti == claims->jti && again->exp == claims->exp && again->sid == claims->sid);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return sodium_init() < 0 ? 1 : 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  embedrec::fuzz::Input in(data, size);
  const int64_t now = 1700000000 + in.Byte();
  const uint8_t mode = in.Byte();
  std::string_view rest = in.rest();
  if (mode % 2 == 0) {  // the raw token text
    CheckRoundTrip(embedrec::auth::VerifyJwt(rest, kSecret, now), now);
    return 0;
  }
  // "header-json\npayload-json", each encoded and signed properly.
  size_t nl = rest.find('\n');
  std::string header = nl == std::string_view::npos ? R"({"alg":"HS256","typ":"JWT"})" : std::string(rest.substr(0, nl));
  std::string payload(nl == std::string_view::npos ? rest : rest.substr(nl + 1));
  std::string signing_input = Base64Url(header) + "." + Base64Url(payload);
  std::string token = signing_input + "." + Sign(signing_input);
  CheckRoundTrip(embedrec::auth::VerifyJwt(token, kSecret, now), now);
  return 0;
}
