// WithLocalFallback (limits/limit_store.h): after the shared store fails, the
// local one answers for a second before the shared one is tried again, so a
// Redis that is down costs one failed call per second, not one per request.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <utility>

#include "limits/limit_store.h"

namespace embedrec::limits {
namespace {

class FallbackLimitStore final : public LimitStore {
 public:
  FallbackLimitStore(std::unique_ptr<LimitStore> shared, std::unique_ptr<LimitStore> local)
      : shared_(std::move(shared)), local_(std::move(local)) {}

  StatusOr<Taken> Take(const std::string& key, const BucketPolicy& p, int64_t now_ms) override {
    return Either([&](LimitStore& s) { return s.Take(key, p, now_ms); });
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

}  // namespace

std::unique_ptr<LimitStore> WithLocalFallback(std::unique_ptr<LimitStore> shared, std::unique_ptr<LimitStore> local) {
  return std::make_unique<FallbackLimitStore>(std::move(shared), std::move(local));
}

}  // namespace embedrec::limits
