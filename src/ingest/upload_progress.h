// How far the uploads that asked (header X-Upload-Progress: <an id of the
// client's>) have been read, by tenant and id, for a page to poll while it
// waits for the upload's answer — through any node: in this process's
// memory by default, in Redis when the nodes share one (EMBEDREC_CACHE_URL),
// so a poll that a load balancer sends to another node finds it.
// Entries go 10 minutes after their last update.
//
// Best effort: a board that cannot be written (Redis down) loses updates,
// never the upload. Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace embedrec::ingest {

struct UploadProgress {
  int64_t bytes = 0, lines = 0;
  bool done = false;
};

class UploadProgressBoard {
 public:
  virtual ~UploadProgressBoard() = default;
  virtual void Set(const std::string& tenant_id, const std::string& id, const UploadProgress& p) = 0;
  virtual std::optional<UploadProgress> Get(const std::string& tenant_id, const std::string& id) = 0;
};

// At most 10,000 entries (finished ones dropped first).
std::unique_ptr<UploadProgressBoard> NewMemoryUploadProgressBoard(const Clock* clock);
// In Redis ("redis://…"), keys "embedrec:upload-progress:<tenant>:<id>";
// updates of one upload written at most every 250 ms (its end always).
// kUnavailable when Redis does not answer at start.
StatusOr<std::unique_ptr<UploadProgressBoard>> OpenRedisUploadProgressBoard(const std::string& url,
                                                                            const Clock* clock);

}  // namespace embedrec::ingest
