#include "common/clock.h"

#include <chrono>
#include <climits>
#include <condition_variable>
#include <thread>

namespace embedrec {

Clock::TimerId TimerQueue::Add(int64_t at_ms, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  const Clock::TimerId id = next_id_++;
  timers_.emplace(std::make_pair(at_ms, id), std::move(fn));
  at_.emplace(id, at_ms);
  return id;
}

bool TimerQueue::Cancel(Clock::TimerId id) {
  std::lock_guard lock(mu_);
  auto it = at_.find(id);
  if (it == at_.end()) return false;
  timers_.erase({it->second, id});
  at_.erase(it);
  return true;
}

bool TimerQueue::PopDue(int64_t now_ms, std::function<void()>* fn) {
  std::lock_guard lock(mu_);
  if (timers_.empty() || timers_.begin()->first.first > now_ms) return false;
  auto it = timers_.begin();
  *fn = std::move(it->second);
  at_.erase(it->first.second);
  timers_.erase(it);
  return true;
}

int64_t TimerQueue::Next() const {
  std::lock_guard lock(mu_);
  return timers_.empty() ? INT64_MAX : timers_.begin()->first.first;
}

void FakeClock::AdvanceMillis(int64_t ms) {
  const int64_t target = now_.load() + ms;
  // Each due timer at its own time, in order (one set by a timer fires too
  // when it falls within the step).
  while (true) {
    const int64_t next = timers_.Next();
    if (next > target) break;
    if (next > now_.load()) now_ = next;
    std::function<void()> fn;
    if (timers_.PopDue(now_.load(), &fn)) fn();
  }
  now_ = target;
}

Clock::TimerId FakeClock::RunAt(int64_t at_ms, std::function<void()> fn) const {
  return timers_.Add(at_ms, std::move(fn));
}

namespace {

int64_t SystemNowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class SystemClock final : public Clock {
 public:
  ~SystemClock() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  int64_t NowMillis() const override { return SystemNowMillis(); }

  TimerId RunAt(int64_t at_ms, std::function<void()> fn) const override {
    const TimerId id = timers_.Add(at_ms, std::move(fn));
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    cv_.notify_all();  // it may be earlier than what the thread waits for
    return id;
  }
  bool Cancel(TimerId id) const override { return timers_.Cancel(id); }

 private:
  void Loop() const {
    std::unique_lock lock(mu_);
    while (!stop_) {
      std::function<void()> fn;
      if (timers_.PopDue(SystemNowMillis(), &fn)) {
        lock.unlock();
        fn();
        lock.lock();
        continue;
      }
      const int64_t next = timers_.Next();
      if (next == INT64_MAX) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, std::chrono::system_clock::time_point(std::chrono::milliseconds(next)));
      }
    }
  }

  mutable TimerQueue timers_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable bool stop_ = false;
  mutable std::thread thread_;  // started by the first timer
};

}  // namespace

Clock* RealClock() {
  static SystemClock clock;
  return &clock;
}

}  // namespace embedrec
