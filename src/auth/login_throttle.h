// Throttles repeated failed logins per key (the lowercased email): after
// `max_failures` failures inside `window_seconds`, further attempts are refused
// for a lockout that doubles with each further failure, up to `max_lockout_seconds`.
//
// In-process state: with several nodes each throttles on its own (the
// scale-out issue moves it to Redis).
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace embedrec::auth {

class LoginThrottle {
 public:
  struct Options {
    int max_failures = 5;
    int64_t window_seconds = 900;
    int64_t base_lockout_seconds = 30;
    int64_t max_lockout_seconds = 900;
    size_t max_tracked_keys = 100000;  // memory bound; oldest idle entries are pruned
  };
  LoginThrottle(const Clock* clock, Options options) : clock_(clock), options_(options) {}

  // Seconds the caller must wait before trying `key` again (0: may try now).
  int64_t RetryAfterSeconds(const std::string& key);
  void RecordFailure(const std::string& key);
  void RecordSuccess(const std::string& key);
  // Keys currently tracked (bounded by max_tracked_keys).
  size_t TrackedKeys();

 private:
  struct Entry {
    int failures = 0;
    int64_t window_start_ms = 0;
    int64_t locked_until_ms = 0;
  };
  void PruneLocked(int64_t now_ms);

  const Clock* clock_;
  Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace embedrec::auth
