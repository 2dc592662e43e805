// The envelope of every index file: a magic naming the format, the body, and
// a BLAKE2b-256 of both. Readers trust the sizes they read, so a damaged file
// must be refused before its body is parsed.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec::ann {

// magic + body + checksum.
std::string SealIndexFile(std::string_view magic, std::string_view body);
// Whether `bytes` starts with `magic` (nothing else checked).
bool HasMagic(std::string_view bytes, std::string_view magic);
// The body; kFailedPrecondition for a wrong magic, a short or damaged file.
StatusOr<std::string_view> OpenIndexFile(std::string_view bytes, std::string_view magic);

}  // namespace embedrec::ann
