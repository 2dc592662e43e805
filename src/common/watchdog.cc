#include "common/watchdog.h"

#include <spdlog/spdlog.h>

#include "common/thread_stack.h"

namespace embedrec {

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Watchdog::Watchdog(Options options) : options_(std::move(options)) {
  monitor_ = std::thread([this] { Monitor(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  monitor_.join();
}

int Watchdog::Watch(std::string name) {
  std::lock_guard lock(slots_mu_);
  for (int i = 0; i < kMaxThreads; ++i) {
    Slot& s = slots_[i];
    if (s.active) continue;
    s.thread = pthread_self();
    s.name = std::move(name);
    s.beat_ns.store(NowNs());
    s.active = true;
    return i;
  }
  return -1;
}

void Watchdog::Beat(int slot) {
  if (slot >= 0 && slot < kMaxThreads) slots_[slot].beat_ns.store(NowNs(), std::memory_order_relaxed);
}

void Watchdog::Forget(int slot) {
  if (slot < 0 || slot >= kMaxThreads) return;
  std::lock_guard lock(slots_mu_);
  slots_[slot].active = false;
}

void Watchdog::Monitor() {
  std::unique_lock lock(mu_);
  const int64_t stall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.stall).count();
  while (!cv_.wait_for(lock, options_.check_every, [&] { return stop_; })) {
    lock.unlock();
    {
      // Held while a stack is taken: the thread cannot be forgotten (and its
      // slot reused) meanwhile.
      std::lock_guard slots(slots_mu_);
      const int64_t now = NowNs();
      for (Slot& s : slots_) {
        if (!s.active) {
          s.reported_beat_ns = 0;
          continue;
        }
        const int64_t beat = s.beat_ns.load(std::memory_order_relaxed);
        if (s.reported_beat_ns != 0 && beat != s.reported_beat_ns) {
          spdlog::warn("watchdog: {} ran again after {} ms", s.name, (beat - s.reported_beat_ns) / 1'000'000);
          s.reported_beat_ns = 0;
        }
        if (s.reported_beat_ns != 0 || now - beat < stall_ns) continue;
        s.reported_beat_ns = beat;
        stalls_.fetch_add(1);
        Stall stall{s.name, (now - beat) / 1'000'000, DescribeStack(StackOf(s.thread, std::chrono::milliseconds(100)))};
        spdlog::warn("watchdog: {} has run nothing for {} ms (something it runs is blocked); its stack{}", stall.thread,
                     stall.silent_ms, stall.stack.empty() ? " could not be taken" : ":\n" + stall.stack);
        if (options_.on_stall) options_.on_stall(stall);
      }
    }
    lock.lock();
  }
}

}  // namespace embedrec
