// Streaming compression for uploads: gzip (zlib) and zstd (libzstd)
// decompression as ByteSources over another ByteSource, and a streaming zstd
// compressor for archives, in memory that does not grow with the stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
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

// zstd-compresses whole `data` (level 3).
std::string ZstdCompress(std::string_view data);

// Compresses a stream with zstd, handing compressed bytes to `sink` as they
// are produced.
class ZstdStreamCompressor {
 public:
  using Sink = std::function<Status(std::string_view)>;
  explicit ZstdStreamCompressor(Sink sink, int level = 3);
  ~ZstdStreamCompressor();
  ZstdStreamCompressor(const ZstdStreamCompressor&) = delete;
  ZstdStreamCompressor& operator=(const ZstdStreamCompressor&) = delete;

  Status Write(std::string_view data);
  // Ends the frame. Call once, after the last Write.
  Status Finish();
  uint64_t bytes_in() const { return bytes_in_; }

 private:
  Status Pump(std::string_view data, bool end);
  Sink sink_;
  void* cctx_;  // ZSTD_CCtx*
  std::string out_;
  uint64_t bytes_in_ = 0;
};

}  // namespace embedrec::ingest
