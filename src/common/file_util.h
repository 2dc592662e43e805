// Whole-file reads, and writes that are all or nothing; the anonymous temporary files
// external sorts spill to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec {

// Writes `content` to `path` atomically: a temporary file beside it (created
// with `mode`), fsync, rename. On failure the temporary is removed and
// `path` is left as it was. kInternal with the OS error.
Status WriteFileAtomically(const std::string& path, std::string_view content, int mode);

// The whole file at `path`, in one read of its size (no stream copies).
// kNotFound when it does not exist; kInternal on other errors.
StatusOr<std::string> ReadWholeFile(const std::string& path);

// The directory of the running executable ("." when it cannot be told).
std::string ExecutableDir();

// The bytes of every regular file under `dir` (0 when it does not exist;
// files that vanish meanwhile are skipped).
int64_t DirectoryBytes(const std::string& dir);

// A new file in `dir` (created if missing), unlinked at once: freed when
// closed, even after a crash. Returns its descriptor; `what` names it in errors.
StatusOr<int> CreateAnonymousFile(const std::string& dir, const char* what);
// All `n` bytes at `offset`, retrying short transfers; kInternal on an error
// or (reading) an early end of file.
Status PWriteAll(int fd, const void* data, size_t n, uint64_t offset, const char* what);
Status PReadAll(int fd, void* data, size_t n, uint64_t offset, const char* what);

}  // namespace embedrec
