// The process's open-file limit: a node serving many tenants holds a few
// files per tenant it serves (its database with the WAL, shared-memory and
// journal files beside it, the analytics and recommendation-log databases),
// so a thousand tenants pass the 1,024 descriptors a Debian shell gives by
// default (docs/benchmarks.md: HTTP 500s from the density benchmark).
#pragma once

#include <cstdint>

namespace embedrec {

struct OpenFileLimit {
  int64_t before = -1;  // the soft limit found (−1: unknown)
  int64_t now = -1;     // the soft limit after raising it
  int64_t hard = -1;    // the ceiling an unprivileged process may raise it to
};

// Raises the soft limit on open files to the hard one (as nginx's
// worker_rlimit_nofile or Go's runtime do), at most `cap`; returns what it
// found and what it set. Never lowers it.
OpenFileLimit RaiseOpenFileLimit(int64_t cap = 1 << 20);

// The number of descriptors the process has open, and the soft limit on
// them (−1: unknown).
int64_t OpenFileCount();
int64_t OpenFileSoftLimit();

}  // namespace embedrec
