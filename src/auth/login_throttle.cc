#include "auth/login_throttle.h"

#include <spdlog/spdlog.h>

namespace embedrec::auth {

LoginThrottle::LoginThrottle(const Clock* clock, Options o, limits::LimitStore* store)
    : clock_(clock),
      policy_{o.max_failures, o.window_seconds * 1000, o.base_lockout_seconds * 1000, o.max_lockout_seconds * 1000},
      own_(store ? nullptr : limits::NewMemoryLimitStore(o.max_tracked_keys)),
      store_(store ? store : own_.get()) {}

int64_t LoginThrottle::RetryAfterSeconds(const std::string& key) {
  const int64_t now = clock_->NowMillis();
  auto until = store_->LockedUntil("login:" + key, now);
  if (!until.ok()) {
    spdlog::warn("login throttle not read: {}", until.status().ToString());
    return 0;
  }
  return *until > now ? (*until - now + 999) / 1000 : 0;
}

void LoginThrottle::RecordFailure(const std::string& key) {
  auto s = store_->Fail("login:" + key, policy_, clock_->NowMillis());
  if (!s.ok()) spdlog::warn("login failure not counted: {}", s.status().ToString());
}

void LoginThrottle::RecordSuccess(const std::string& key) {
  Status s = store_->Clear("login:" + key);
  if (!s.ok()) spdlog::warn("login failures not cleared: {}", s.ToString());
}

}  // namespace embedrec::auth
