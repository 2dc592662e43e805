#include "auth/password.h"

#include <sodium.h>

#include "common/strings.h"

namespace embedrec::auth {

Status CheckPasswordStrength(std::string_view password, std::string_view email) {
  auto reject = [](std::string rule, std::string msg) {
    return Status::Unprocessable(std::move(msg), {{"field", "password"}, {"rule", std::move(rule)}})
        .WithReason("weak_password");
  };
  if (!IsValidUtf8(password)) return reject("utf8", "password must be valid UTF-8");
  size_t len = Utf8Length(password);
  if (len < kMinPasswordLength || len > kMaxPasswordLength) {
    return reject("length", "password must be 10 to 128 characters long");
  }
  bool lower = false, upper = false, digit = false, symbol = false;
  for (unsigned char c : password) {
    if (c >= 'a' && c <= 'z') lower = true;
    else if (c >= 'A' && c <= 'Z') upper = true;
    else if (c >= '0' && c <= '9') digit = true;
    else symbol = true;
  }
  if (int(lower) + int(upper) + int(digit) + int(symbol) < 3) {
    return reject("classes",
                  "password must mix at least three of: lowercase letters, uppercase letters, "
                  "digits, symbols");
  }
  std::string local = AsciiLower(email.substr(0, email.find('@')));
  if (local.size() >= 3 && AsciiLower(password).find(local) != std::string::npos) {
    return reject("contains_email", "password must not contain the email address's name");
  }
  return Status::Ok();
}

StatusOr<std::string> HashPassword(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Internal("password hashing ran out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  std::string h(encoded_hash);  // needs NUL termination
  if (h.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

void VerifyDummyPassword(std::string_view password) {
  static const std::string kDummy = [] {
    auto h = HashPassword("dummy-password-for-timing");
    return h.ok() ? *h : std::string();
  }();
  (void)VerifyPassword(kDummy, password);
}

}  // namespace embedrec::auth
