#include "auth/login_throttle.h"

#include <algorithm>

namespace embedrec::auth {

int64_t LoginThrottle::RetryAfterSeconds(const std::string& key) {
  int64_t now = clock_->NowMillis();
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until_ms <= now) return 0;
  return (it->second.locked_until_ms - now + 999) / 1000;
}

void LoginThrottle::RecordFailure(const std::string& key) {
  int64_t now = clock_->NowMillis();
  std::lock_guard lock(mu_);
  if (entries_.size() >= options_.max_tracked_keys) PruneLocked(now);
  Entry& e = entries_[key];
  if (now - e.window_start_ms > options_.window_seconds * 1000 && e.locked_until_ms <= now) {
    e.failures = 0;
    e.window_start_ms = now;
  }
  ++e.failures;
  if (e.failures >= options_.max_failures) {
    int extra = std::min(e.failures - options_.max_failures, 20);
    int64_t lock_s = std::min(options_.base_lockout_seconds << extra, options_.max_lockout_seconds);
    e.locked_until_ms = now + lock_s * 1000;
  }
}

void LoginThrottle::RecordSuccess(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

size_t LoginThrottle::TrackedKeys() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void LoginThrottle::PruneLocked(int64_t now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool idle = it->second.locked_until_ms <= now &&
                now - it->second.window_start_ms > options_.window_seconds * 1000;
    it = idle ? entries_.erase(it) : std::next(it);
  }
  if (entries_.size() >= options_.max_tracked_keys) {
    // Still full of live entries: drop unlocked ones first to stay bounded.
    for (auto it = entries_.begin(); it != entries_.end() &&
                                     entries_.size() >= options_.max_tracked_keys;) {
      it = it->second.locked_until_ms <= now ? entries_.erase(it) : std::next(it);
    }
  }
}

}  // namespace embedrec::auth
