// Streaming decompression of uploads: gzip (zlib) and zstd (libzstd), as
// ByteSources over another ByteSource, in memory that does not grow with the
// stream.
#pragma once

#include <memory>
#include <string_view>

#include "common/byte_source.h"

namespace embedrec::ingest {

enum class Compression { kNone, kGzip, kZstd };

// From a Content-Encoding header ("gzip", "x-gzip", "zstd") or, failing that,
// a file name ending in .gz or .zst. kNone otherwise.
Compression DetectCompression(std::string_view content_encoding, std::string_view file_name);

// Wraps `inner` (not owned; must outlive the result). kNone returns a
// pass-through. Corrupt input fails the Read with kInvalidArgument.
std::unique_ptr<ByteSource> NewDecompressingSource(ByteSource* inner, Compression c);

// zstd-compresses whole `data` (level 3); for archiving uploads.
std::string ZstdCompress(std::string_view data);

}  // namespace embedrec::ingest
