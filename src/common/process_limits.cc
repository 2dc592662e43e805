#include "common/process_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace embedrec {
namespace {
int64_t Figure(rlim_t v) { return v == RLIM_INFINITY ? INT64_MAX : static_cast<int64_t>(v); }
}  // namespace

OpenFileLimit RaiseOpenFileLimit(int64_t cap) {
  OpenFileLimit out;
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return out;
  out.before = out.now = Figure(l.rlim_cur);
  out.hard = Figure(l.rlim_max);
  const int64_t want = std::min(out.hard, cap);
  if (want <= out.before) return out;
  rlimit raised = l;
  raised.rlim_cur = static_cast<rlim_t>(want);
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.now = want;
  return out;
}

int64_t OpenFileSoftLimit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return -1;
  return Figure(l.rlim_cur);
}

int64_t OpenFileCount() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return -1;
  int64_t n = 0;
  for (const auto& entry : it) {
    (void)entry;
    ++n;
  }
  return n - 1;  // the iterator's own descriptor
}

}  // namespace embedrec
