// Wrappers over a shared store (limits/limit_store.h). WithLocalFallback:
// after the shared store fails, the local one answers for a second before the
// shared one is tried again, so a Redis that is down costs one failed call
// per second, not one per request. WithLocalBatches: tokens fetched in
// batches and spent locally.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
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
    const int most = static_cast<int>(std::clamp(std::min(p.per_second / 20, p.burst / 10), 1.0, 1e6));
    if (most <= 1) return shared_->Take(key, p, now_ms, want);
    std::unique_lock lock(mu_);
    int size = most;
    while (true) {
      Spare& s = spare_[key];
      const bool fresh = now_ms - s.at_ms < kLapseMs;
      if (fresh && s.tokens >= want) {
        s.tokens -= want;
        s.spent += want;
        return Taken{want, 0};
      }
      // The bucket refused this node's last fetch: nothing is back before
      // then (other nodes only take), so no round trip until it is — nor a
      // queue of refused callers behind the one fetch allowed at a time.
      if (now_ms < s.refused_until_ms) return Taken{0, s.refused_until_ms - now_ms};
      if (!s.fetching) {
        // The next batch follows what this node spends: the whole last
        // batch spent → twice as many (up to `most`); part of it lapsed →
        // a quarter more than was spent. Tokens fetched and left to lapse
        // are gone from the shared bucket: an idle node must not draw
        // a full batch every 100 ms.
        if (s.fetched > 0) {
          size = fresh || s.tokens == 0 ? std::min(most, 2 * s.fetched)
                                        : std::clamp(s.spent + s.spent / 4 + 1, 1, most);
        }
        s.fetching = true;
        break;
      }
      // Another thread is fetching this key's batch: one fetch per key at a
      // time (several at once drew several batches, most of them lapsing,
      // and refused a tenant well under its limit).
      fetched_cv_.wait(lock);
    }
    lock.unlock();
    StatusOr<Taken> got = shared_->Take(key, p, now_ms, size + want - 1);
    lock.lock();
    if (spare_.size() > kMaxKeys) {
      for (auto it = spare_.begin(); it != spare_.end();) {
        it = now_ms - it->second.at_ms >= kLapseMs && !it->second.fetching && it->first != key ? spare_.erase(it)
                                                                                                 : std::next(it);
      }
    }
    Spare& s = spare_[key];
    s.fetching = false;
    fetched_cv_.notify_all();
    if (!got.ok()) return got;
    if (!got->allowed()) {
      s.refused_until_ms = now_ms + got->retry_after_ms;
      return got;
    }
    const int taken = std::min(want, got->granted);
    s.tokens = got->granted - taken;  // what an earlier batch left has lapsed or been spent
    s.fetched = got->granted;
    s.spent = taken;
    s.at_ms = now_ms;
    return Taken{taken, 0};
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
    int tokens = 0;   // of the current batch, unspent
    int fetched = 0;  // the current batch's size (0: none yet)
    int spent = 0;    // of the current batch
    int64_t at_ms = 0;
    int64_t refused_until_ms = 0;  // the last fetch was refused: until a token is back
    bool fetching = false;
  };
  std::unique_ptr<LimitStore> shared_;
  std::mutex mu_;
  std::condition_variable fetched_cv_;
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
