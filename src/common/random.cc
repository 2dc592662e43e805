#include "common/random.h"

#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace embedrec {

void InitCrypto() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "fatal: libsodium failed to initialise\n");
    std::abort();
  }
}

namespace {
// Random bytes from a per-thread ChaCha20 keystream keyed from the OS, with
// fast key erasure (each block of output first replaces the key, so earlier
// output cannot be recovered from the thread's state): as unpredictable as
// the OS's bytes, without a getrandom syscall per id (that syscall was ~1 %
// of a tracked event). The process never forks, so no stream is duplicated.
class KeystreamBytes {
 public:
  KeystreamBytes() { randombytes_buf(key_, sizeof key_); }
  unsigned char Next() {
    if (pos_ == sizeof buf_) Refill();
    const unsigned char b = buf_[pos_];
    buf_[pos_++] = 0;  // handed out: not kept in the thread's state
    return b;
  }

 private:
  void Refill() {
    static_assert(sizeof key_ == crypto_stream_chacha20_KEYBYTES);
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {};
    unsigned char block[sizeof key_ + sizeof buf_];
    crypto_stream_chacha20(block, sizeof block, nonce, key_);
    std::memcpy(key_, block, sizeof key_);
    std::memcpy(buf_, block + sizeof key_, sizeof buf_);
    sodium_memzero(block, sizeof block);
    pos_ = 0;
  }
  unsigned char key_[32];
  unsigned char buf_[480];
  size_t pos_ = sizeof buf_;
};
}  // namespace

std::string RandomBase62(size_t n) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // Bytes >= 248 are rejected so that `b % 62` stays uniform.
  thread_local KeystreamBytes bytes;
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    unsigned char b = bytes.Next();
    if (b < 248) out.push_back(kAlphabet[b % 62]);
  }
  return out;
}

namespace {
// xoshiro256** (Blackman & Vigna), seeded per thread.
struct Xoshiro {
  uint64_t s[4];
  Xoshiro() { randombytes_buf(s, sizeof s); }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    uint64_t r = Rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = Rotl(s[3], 45);
    return r;
  }
};
}  // namespace

std::string FastRandomBase62(size_t n) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local Xoshiro rng;
  std::string out(n, '0');
  for (auto& c : out) c = kAlphabet[(rng.Next() >> 11) % 62];  // bias < 2^-47
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::string NewUuid() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);  // variant 10
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string NewId(std::string_view prefix) {
  return std::string(prefix) + "_" + RandomBase62(22);
}

std::string HexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.size() - 1);  // drop the NUL
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  out->assign(text.size(), '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return false;
  }
  out->resize(len);
  return true;
}

std::string Sha256(std::string_view data) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  crypto_auth_hmacsha256_state st;
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace embedrec
