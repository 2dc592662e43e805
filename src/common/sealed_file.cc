#include "common/sealed_file.h"

#include <sodium.h>

namespace embedrec {
namespace {

constexpr size_t kSumBytes = 32;

std::string Checksum(std::string_view bytes) {
  unsigned char sum[kSumBytes];
  crypto_generichash(sum, sizeof(sum), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(sum), sizeof(sum));
}

}  // namespace

std::string SealFile(std::string_view magic, std::string_view body) {
  std::string out;
  out.reserve(magic.size() + body.size() + kSumBytes);
  out.append(magic);
  out.append(body);
  out += Checksum(out);
  return out;
}

bool HasMagic(std::string_view bytes, std::string_view magic) {
  return bytes.substr(0, magic.size()) == magic;
}

StatusOr<std::string_view> OpenSealedFile(std::string_view bytes, std::string_view magic, std::string_view what) {
  if (bytes.size() < magic.size() + kSumBytes || !HasMagic(bytes, magic)) {
    return Status::FailedPrecondition("not an embedrec " + std::string(what) + " (bad magic)");
  }
  std::string_view sealed = bytes.substr(0, bytes.size() - kSumBytes);
  if (Checksum(sealed) != bytes.substr(sealed.size())) {
    return Status::FailedPrecondition(std::string(what) + " checksum mismatch (truncated or damaged)");
  }
  return sealed.substr(magic.size());
}

}  // namespace embedrec
