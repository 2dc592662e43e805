// Throttles repeated failed logins per key (the lowercased email): after
// `max_failures` failures inside `window_seconds`, further attempts are refused
// for a lockout that doubles with each further failure, up to `max_lockout_seconds`.
//
// The counts live in a limits::LimitStore: this process's memory by default,
// Redis when the nodes share one (EMBEDREC_CACHE_URL), so an attacker gains
// nothing by spreading attempts over nodes.
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "limits/limit_store.h"

namespace embedrec::auth {

class LoginThrottle {
 public:
  struct Options {
    int max_failures = 5;
    int64_t window_seconds = 900;
    int64_t base_lockout_seconds = 30;
    int64_t max_lockout_seconds = 900;
    size_t max_tracked_keys = 100000;  // the memory store's bound (no `store` given)
  };
  // `store` (may be null: one in memory) outlives the throttle.
  LoginThrottle(const Clock* clock, Options options, limits::LimitStore* store = nullptr);

  // Seconds the caller must wait before trying `key` again (0: may try now).
  int64_t RetryAfterSeconds(const std::string& key);
  void RecordFailure(const std::string& key);
  void RecordSuccess(const std::string& key);

 private:
  const Clock* clock_;
  limits::FailurePolicy policy_;
  std::unique_ptr<limits::LimitStore> own_;
  limits::LimitStore* store_;
};

}  // namespace embedrec::auth
