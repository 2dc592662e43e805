// Whole-file writes that are all or nothing.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec {

// Writes `content` to `path` atomically: a temporary file beside it (created
// with `mode`), fsync, rename. On failure the temporary is removed and
// `path` is left as it was. kInternal with the OS error.
Status WriteFileAtomically(const std::string& path, std::string_view content, int mode);

}  // namespace embedrec
