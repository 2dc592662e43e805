// The envelope of files that are read back with trust in the sizes they
// hold (index files, serving snapshots): a magic naming the format, the
// body, and a BLAKE2b-256 of both, so that a damaged file is refused before
// its body is parsed.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec {

// magic + body + checksum.
std::string SealFile(std::string_view magic, std::string_view body);
// Whether `bytes` starts with `magic` (nothing else checked).
bool HasMagic(std::string_view bytes, std::string_view magic);
// The body; kFailedPrecondition for a wrong magic, a short or damaged file
// (`what` names the kind of file in the message).
StatusOr<std::string_view> OpenSealedFile(std::string_view bytes, std::string_view magic, std::string_view what);

}  // namespace embedrec
