// Wrappers over a shared store (limits/limit_store.h). WithLocalFallback:
// after the shared store fails, the local one answers for a second before the
// shared one is tried again, so a Redis that is down costs one failed call
// per second, not one per request. WithLocalBatches: tokens fetched in
// batches and spent locally.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <chrono>
#include <utility>

#include "limits/limit_store.h"

namespace embedrec::limits {
namespace {

class FallbackLimitStore final : public LimitStore {
 public:
  FallbackLimitStore(std::unique_ptr<LimitStore> shared, std::unique_ptr<LimitStore> local)
      : shared_(std::move(shared)), local_(std::move(local)) {}

  StatusOr<Taken> Take(const std::string& key, const BucketPolicy& p, int64_t now_ms, int want) override {
    return Either([&](LimitStore& s) { return s.Take(key, p, now_ms, want); });
  }
  StatusOr<int64_t> Fail(const std::string& key, const FailurePolicy& p, int64_t now_ms) override {
    return Either([&](LimitStore& s) { return s.Fail(key, p, now_ms); });
  }
  StatusOr<int64_t> LockedUntil(const std::string& key, int64_t now_ms) override {
    return Either([&](LimitStore& s) { return s.LockedUntil(key, now_ms); });
  }
  Status Clear(const std::string& key) override {
    (void)local_->Clear(key);  // what it counted during an outage goes too
    return Either([&](LimitStore& s) -> StatusOr<bool> {
             RETURN_IF_ERROR(s.Clear(key));
             return true;
           }).status();
  }

 private:
  template <typename Fn>
  auto Either(Fn fn) -> decltype(fn(std::declval<LimitStore&>())) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    if (now >= shared_down_until_.load()) {
      auto r = fn(*shared_);
      if (r.ok()) return r;
      if (shared_down_until_.exchange(now + 1000) <= now) {
        spdlog::warn("limits counted on this node alone for now: {}", r.status().ToString());
      }
    }
    return fn(*local_);
  }

  std::unique_ptr<LimitStore> shared_, local_;
  std::atomic<int64_t> shared_down_until_{0};
};

class BatchingLimitStore final : public LimitStore {
 public:
  explicit BatchingLimitStore(std::unique_ptr<LimitStore> shared) : shared_(std::move(shared)) {}

  StatusOr<Taken> Take(const std::string& key, const BucketPolicy& p, int64_t now_ms, int want) override {
    const int batch = static_cast<int>(std::clamp(std::min(p.per_second / 20, p.burst / 10), 1.0, 1e6));
    if (batch <= 1) return shared_->Take(key, p, now_ms, want);
    {
      std::lock_guard lock(mu_);
      auto it = spare_.find(key);
      if (it != spare_.end() && it->second.tokens >= want && now_ms - it->second.at_ms < kLapseMs) {
        it->second.tokens -= want;
        return Taken{want, 0};
      }
    }
    // Fetched without the lock (other keys go on); threads refilling one key
    // at once each fetch a batch, and pool what they did not spend.
    ASSIGN_OR_RETURN(Taken got, shared_->Take(key, p, now_ms, batch + want - 1));
    if (!got.allowed()) return got;
    std::lock_guard lock(mu_);
    if (spare_.size() > kMaxKeys) {
      for (auto it = spare_.begin(); it != spare_.end();) {
        it = now_ms - it->second.at_ms >= kLapseMs ? spare_.erase(it) : std::next(it);
      }
    }
    Spare& s = spare_[key];
    if (now_ms - s.at_ms >= kLapseMs) s.tokens = 0;
    s.tokens += got.granted - std::min(want, got.granted);
    s.at_ms = now_ms;
    return Taken{std::min(want, got.granted), 0};
  }
  StatusOr<int64_t> Fail(const std::string& key, const FailurePolicy& p, int64_t now_ms) override {
    return shared_->Fail(key, p, now_ms);
  }
  StatusOr<int64_t> LockedUntil(const std::string& key, int64_t now_ms) override {
    return shared_->LockedUntil(key, now_ms);
  }
  Status Clear(const std::string& key) override { return shared_->Clear(key); }

 private:
  static constexpr int64_t kLapseMs = 100;
  static constexpr size_t kMaxKeys = 10'000;
  struct Spare {
    int tokens = 0;
    int64_t at_ms = 0;
  };
  std::unique_ptr<LimitStore> shared_;
  std::mutex mu_;
  std::unordered_map<std::string, Spare> spare_;
};

}  // namespace

std::unique_ptr<LimitStore> WithLocalBatches(std::unique_ptr<LimitStore> shared) {
  return std::make_unique<BatchingLimitStore>(std::move(shared));
}

std::unique_ptr<LimitStore> WithLocalFallback(std::unique_ptr<LimitStore> shared, std::unique_ptr<LimitStore> local) {
  return std::make_unique<FallbackLimitStore>(std::move(shared), std::move(local));
}

}  // namespace embedrec::limits
