// Password hashing (argon2id via libsodium) and the platform's password rules.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec::auth {

// Password rules, stated in every rejection: 10 to 128 characters, at least
// three of the four classes (lowercase, uppercase, digit, symbol), and not
// containing the email's local part.
inline constexpr size_t kMinPasswordLength = 10;
inline constexpr size_t kMaxPasswordLength = 128;

// kUnprocessable with details {field: "password", rule: ...} when a rule fails.
Status CheckPasswordStrength(std::string_view password, std::string_view email);

// argon2id with libsodium's "interactive" limits (64 MiB, 2 passes): ~50-100 ms.
// Returns the self-describing encoded string ($argon2id$v=19$m=...).
StatusOr<std::string> HashPassword(std::string_view password);

// Constant-time with respect to the password. False for malformed hashes.
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

// Burns the same time as a real verification; used when the email is unknown
// so that wrong email and wrong password cannot be told apart by timing.
void VerifyDummyPassword(std::string_view password);

}  // namespace embedrec::auth
