// Time comes through this interface so tests never read the real clock, and
// timers too, so a scheduler can be tested by moving a fake clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

namespace embedrec {

// Thread safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }

  using TimerId = uint64_t;
  // Calls `fn` once when the clock reaches `at_ms` (at once when it has):
  // on the clock's timer thread for the real clock, inside AdvanceMillis for
  // a fake one. `fn` must not block for long (hand work to a pool); it may
  // set timers, and cancel others.
  virtual TimerId RunAt(int64_t at_ms, std::function<void()> fn) const = 0;
  // True when the timer was pending and now will not run; false when it has
  // run, is running or never existed.
  virtual bool Cancel(TimerId id) const = 0;
};

// Lets one caller through per interval of a clock's time: e.g. a reload a
// cache miss may start, at most once a second whatever the request rate.
// Thread safety: safe for concurrent use.
class OncePer {
 public:
  explicit OncePer(int64_t interval_ms) : interval_ms_(interval_ms) {}
  // True for one caller once `interval_ms` has passed since the last one let through.
  bool Take(int64_t now_ms) {
    int64_t last = last_ms_.load();
    return now_ms - last >= interval_ms_ && last_ms_.compare_exchange_strong(last, now_ms);
  }

 private:
  const int64_t interval_ms_;
  std::atomic<int64_t> last_ms_{0};
};

// The process-wide real clock. Never null; lives forever.
Clock* RealClock();

// Pending timers ordered by time, then by when they were set.
class TimerQueue {
 public:
  Clock::TimerId Add(int64_t at_ms, std::function<void()> fn);
  bool Cancel(Clock::TimerId id);
  // The earliest timer due at `now_ms` (removed), or false.
  bool PopDue(int64_t now_ms, std::function<void()>* fn);
  // The earliest timer's time, or INT64_MAX.
  int64_t Next() const;

 private:
  mutable std::mutex mu_;
  Clock::TimerId next_id_ = 1;
  std::map<std::pair<int64_t, Clock::TimerId>, std::function<void()>> timers_;
  std::map<Clock::TimerId, int64_t> at_;
};

// Another clock's time moved forward by a settable offset: a running server's
// time for end-to-end tests of what happens days later (EMBEDREC_TEST_CLOCK).
// Timers are the base clock's, set at the offset of the moment they are set:
// moving the offset does not fire them early.
class OffsetClock final : public Clock {
 public:
  OffsetClock(const Clock* base, int64_t offset_ms) : base_(base), offset_(offset_ms) {}
  int64_t NowMillis() const override { return base_->NowMillis() + offset_.load(); }
  void AdvanceMillis(int64_t ms) { offset_ += ms; }
  int64_t offset_ms() const { return offset_.load(); }
  TimerId RunAt(int64_t at_ms, std::function<void()> fn) const override {
    return base_->RunAt(at_ms - offset_.load(), std::move(fn));
  }
  bool Cancel(TimerId id) const override { return base_->Cancel(id); }

 private:
  const Clock* base_;
  std::atomic<int64_t> offset_;
};

// A clock that only moves when told to; timers fire inside AdvanceMillis, in
// time order, each seeing NowMillis() at its own time. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void AdvanceMillis(int64_t ms);
  void AdvanceSeconds(int64_t s) { AdvanceMillis(s * 1000); }
  TimerId RunAt(int64_t at_ms, std::function<void()> fn) const override;
  bool Cancel(TimerId id) const override { return timers_.Cancel(id); }

 private:
  std::atomic<int64_t> now_;
  mutable TimerQueue timers_;
};

}  // namespace embedrec
