// Limits' counters in this process's memory (limits/limit_store.h).
#include <algorithm>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include "limits/limit_store.h"

namespace embedrec::limits {
namespace {

class MemoryLimitStore final : public LimitStore {
 public:
  explicit MemoryLimitStore(size_t max_keys) : max_keys_(std::max<size_t>(max_keys, 1)) {}

  StatusOr<Taken> Take(const std::string& key, const BucketPolicy& p, int64_t now_ms, int want) override {
    std::lock_guard lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(key);
    Bucket& b = it->second;
    if (fresh) {
      if (buckets_.size() > max_keys_) PruneBuckets(now_ms, key);
      b = {p.burst, now_ms};
    } else if (now_ms > b.at_ms) {
      b.tokens = std::min(p.burst, b.tokens + (now_ms - b.at_ms) * p.per_second / 1000.0);
      b.at_ms = now_ms;
    }
    if (b.tokens >= 1) {
      const int granted = static_cast<int>(std::min<double>(std::max(want, 1), std::floor(b.tokens)));
      b.tokens -= granted;
      return Taken{granted, 0};
    }
    const double wait_ms = p.per_second > 0 ? (1 - b.tokens) * 1000.0 / p.per_second : 3'600'000.0;
    return Taken{0, static_cast<int64_t>(std::ceil(wait_ms))};
  }

  StatusOr<int64_t> Fail(const std::string& key, const FailurePolicy& p, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    auto [it, fresh] = failures_.try_emplace(key);
    if (fresh && failures_.size() > max_keys_) PruneFailures(now_ms, p.window_ms, key);
    Failures& e = it->second;
    if (now_ms - e.window_start_ms > p.window_ms && e.locked_until_ms <= now_ms) {
      e.count = 0;
      e.window_start_ms = now_ms;
    }
    ++e.count;
    if (e.count >= p.max_failures) {
      const int extra = std::min(e.count - p.max_failures, 20);
      e.locked_until_ms = now_ms + std::min(p.base_lockout_ms << extra, p.max_lockout_ms);
    }
    return e.locked_until_ms > now_ms ? e.locked_until_ms : 0;
  }

  StatusOr<int64_t> LockedUntil(const std::string& key, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    auto it = failures_.find(key);
    return it == failures_.end() || it->second.locked_until_ms <= now_ms ? 0 : it->second.locked_until_ms;
  }

  Status Clear(const std::string& key) override {
    std::lock_guard lock(mu_);
    failures_.erase(key);
    return Status::Ok();
  }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  struct Failures {
    int count = 0;
    int64_t window_start_ms = 0;
    int64_t locked_until_ms = 0;
  };

  // Full buckets hold nothing worth keeping; then the oldest go (bounded memory).
  void PruneBuckets(int64_t now_ms, const std::string& keep) {
    for (auto it = buckets_.begin(); it != buckets_.end() && buckets_.size() > max_keys_;) {
      it = it->first != keep && now_ms - it->second.at_ms > 60'000 ? buckets_.erase(it) : std::next(it);
    }
    for (auto it = buckets_.begin(); it != buckets_.end() && buckets_.size() > max_keys_;) {
      it = it->first != keep ? buckets_.erase(it) : std::next(it);
    }
  }
  // Idle entries first, then unlocked ones: a locked key is dropped last.
  void PruneFailures(int64_t now_ms, int64_t window_ms, const std::string& keep) {
    for (auto it = failures_.begin(); it != failures_.end() && failures_.size() > max_keys_;) {
      const bool idle = it->second.locked_until_ms <= now_ms && now_ms - it->second.window_start_ms > window_ms;
      it = it->first != keep && idle ? failures_.erase(it) : std::next(it);
    }
    for (auto it = failures_.begin(); it != failures_.end() && failures_.size() > max_keys_;) {
      it = it->first != keep && it->second.locked_until_ms <= now_ms ? failures_.erase(it) : std::next(it);
    }
  }

  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::unordered_map<std::string, Failures> failures_;
};

}  // namespace

std::unique_ptr<LimitStore> NewMemoryLimitStore(size_t max_keys) {
  return std::make_unique<MemoryLimitStore>(max_keys);
}

}  // namespace embedrec::limits
