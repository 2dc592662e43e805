// A pull-based stream of bytes: request bodies, decompressors and multipart
// parts all look the same to the code that consumes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <memory>
#include <string>

#include "common/status.h"

namespace embedrec {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`; 0 means the stream has ended. May block.
  virtual StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

// A source over an in-memory string (tests, small bodies).
std::unique_ptr<ByteSource> NewStringSource(std::string data);

// Passes `in` through, showing every chunk read to `observer` first (e.g. to
// archive an upload while it is parsed). `in` must outlive the result.
std::unique_ptr<ByteSource> NewTeeSource(ByteSource* in,
                                         std::function<Status(std::string_view)> observer);

// Passes `in` through up to `max_bytes`; a byte beyond them fails the read
// with `exceeded` (e.g. a 413 naming the limit). `in` must outlive the result.
std::unique_ptr<ByteSource> NewLimitedSource(ByteSource* in, uint64_t max_bytes, Status exceeded);

// Reads `in` ahead on a thread of its own, up to `depth` chunks of
// `chunk_bytes`, so that producing the bytes (network reads,
// decompression, an archiving tee) and consuming them (parsing) use two
// cores. Errors of `in` are returned in order, after the bytes read before
// them. `in` must outlive the result and is used only by that thread until
// the result has returned 0 or an error, or is destroyed (the destructor
// waits for a Read of `in` in progress).
std::unique_ptr<ByteSource> NewReadAheadSource(ByteSource* in, size_t chunk_bytes = 1 << 20,
                                               int depth = 4);

}  // namespace embedrec
