// Time comes through this interface so tests never read the real clock.
#pragma once

#include <atomic>
#include <cstdint>

namespace embedrec {

// Thread safety: implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

// The process-wide real clock. Never null; lives forever.
Clock* RealClock();

// A clock that only moves when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void AdvanceMillis(int64_t ms) { now_ += ms; }
  void AdvanceSeconds(int64_t s) { now_ += s * 1000; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace embedrec
