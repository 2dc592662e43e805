// Background work that stands aside while requests wait for a CPU.
//
// Training runs at SCHED_IDLE (common/thread_priority.h), which yields a
// core whenever a request's thread wakes; but under a load that keeps both
// cores nearly busy, a job still took 15-24 % of them from request handling
// (measured: docs/benchmarks.md, "A training job under a saturating load") —
// the job fills every gap of a few microseconds between requests, and each
// request woken behind it pays the switch. So the job also steps aside
// itself: between two units of its work (a training batch, a block of users
// a validation ranks) it asks whether requests are waiting (the request pool
// started one late within the last few milliseconds:
// FairThreadPool::DelayedWithin), and while they are it sleeps, a nap at a
// time, for at most kMaxRatio times as long as the unit just done took (and
// at most a second). Under a steady overload the job keeps at least
// 1 / (1 + kMaxRatio) of the time it would run (it always progresses);
// without waiting requests it never sleeps.
//
// Thread safety: one instance per thread of background work.
#pragma once

#include <chrono>
#include <functional>

namespace embedrec {

class StepAside {
 public:
  // `waiting`: true while requests wait for a worker (null: never).
  using Waiting = std::function<bool()>;
  static constexpr double kMaxRatio = 4;
  static constexpr std::chrono::microseconds kNap{1000};
  // Per call, by default: a cancel is seen within it.
  static constexpr std::chrono::milliseconds kMaxPause{1000};

  explicit StepAside(Waiting waiting, std::chrono::milliseconds max_pause = kMaxPause);

  // Between two units of work: sleeps while requests wait (see above).
  void Between();

  // Time spent standing aside so far.
  std::chrono::nanoseconds paused() const { return paused_; }

 private:
  Waiting waiting_;
  std::chrono::milliseconds max_pause_;
  std::chrono::steady_clock::time_point last_;
  std::chrono::nanoseconds paused_{0};
};

// `aside`'s time stood aside so far, in seconds (0 without one).
inline double PausedSeconds(const StepAside* aside) {
  return aside ? std::chrono::duration<double>(aside->paused()).count() : 0.0;
}

}  // namespace embedrec
