// The answer of a write that waited its while for another one (most often an
// upload storing its rows: it holds the tenant's write lock) and gave up:
// kUnavailable, reason "busy", retry after 5 s (HTTP 503 with Retry-After).
// Both backends give it — SQLite's busy database, PostgreSQL's lock_timeout —
// and it is not retried: the wait was the retry.
#pragma once

#include <string>

#include "common/status.h"

namespace embedrec::store {

inline Status StoreBusy(const std::string& cause) {
  return Status(StatusCode::kUnavailable,
                "the data is busy with another write (most often an upload storing its rows); try again shortly (" +
                    cause + ")",
                "busy", {{"retry_after_seconds", "5"}});
}

inline bool IsStoreBusy(const Status& s) { return s.code() == StatusCode::kUnavailable && s.reason() == "busy"; }

}  // namespace embedrec::store
