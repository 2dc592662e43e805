// Cryptographically secure randomness and identifiers (libsodium underneath).
// Thread safety: every function is safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace embedrec {

// Must run once before any other call here (initialises libsodium). Idempotent.
void InitCrypto();

// `n` random characters from [0-9A-Za-z], each uniformly distributed and
// unpredictable (for secrets too: a per-thread ChaCha20 keystream keyed from
// the OS's CSPRNG, its key replaced as it is used).
std::string RandomBase62(size_t n);
// `n` random bytes.
std::string RandomBytes(size_t n);
// A random RFC 4122 version-4 UUID, lowercase ("3f2a...-4...-a...").
std::string NewUuid();
// A prefixed opaque id: "usr_" + 22 base62 characters (~131 bits).
std::string NewId(std::string_view prefix);

// `n` characters from [0-9A-Za-z] from a fast per-thread generator seeded from
// the system's CSPRNG. NOT for secrets: for request ids and the like, where
// uniqueness matters and a syscall per call would not be worth it.
std::string FastRandomBase62(size_t n);

// Encodings.
std::string HexEncode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);  // no padding
// Returns false on malformed input.
bool Base64UrlDecode(std::string_view text, std::string* out);

// SHA-256 digest (32 raw bytes).
std::string Sha256(std::string_view data);
// HMAC-SHA-256 (32 raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);
// Constant-time equality of two byte strings (length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace embedrec
