// A watchdog for threads that must keep making progress — a network
// thread's event loop, whose handlers must never block (http/server.h).
// Each watched thread beats from time to time; a monitor thread that finds
// one silent for `stall` counts a stall and logs, once per stall, the
// thread's name, how long it has been silent and its stack (taken then,
// common/thread_stack.h: what it is blocked in), and when it beats again,
// how long it was stuck. Envoy's watchdog ("miss") is the model.
//
// Thread safety: Watch, Beat and Forget from the watched thread; the rest
// from any thread.
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace embedrec {

class Watchdog {
 public:
  struct Stall {
    std::string thread;  // the name it was watched under
    int64_t silent_ms = 0;
    std::string stack;   // DescribeStack's lines; empty when it could not be taken
  };
  struct Options {
    std::chrono::milliseconds stall{500};
    std::chrono::milliseconds check_every{50};
    // Told of every stall as it is found (tests); the log line is written either way.
    std::function<void(const Stall&)> on_stall;
  };
  explicit Watchdog(Options options);
  ~Watchdog();  // stops the monitor

  static constexpr int kMaxThreads = 256;
  // Watches the calling thread as `name` from now on (it counts as having
  // just beaten); its slot, or -1 when kMaxThreads are watched.
  int Watch(std::string name);
  void Beat(int slot);    // well within `stall` of the last one
  void Forget(int slot);  // before the thread ends or stops beating on purpose

  int64_t stalls() const { return stalls_.load(); }
  std::chrono::milliseconds stall() const { return options_.stall; }

 private:
  struct Slot {
    bool active = false;  // GUARDED_BY(slots_mu_)
    std::atomic<int64_t> beat_ns{0};
    pthread_t thread{};    // GUARDED_BY(slots_mu_)
    std::string name;      // GUARDED_BY(slots_mu_)
    int64_t reported_beat_ns = 0;  // the monitor's: the beat a stall was reported after (0: none)
  };
  void Monitor();

  const Options options_;
  std::array<Slot, kMaxThreads> slots_;
  std::mutex slots_mu_;  // Watch and Forget (names, taking a slot); Beat is lock-free
  std::atomic<int64_t> stalls_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread monitor_;
};

}  // namespace embedrec
