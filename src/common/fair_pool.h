// A pool of worker threads that serves keyed queues round-robin (the key is
// a tenant), with at most `max_running_per_key` tasks of one key running at
// once. A tenant with a burst, or with requests stuck behind its own long
// upload, waits in its own queue: it never holds the whole pool, and the
// other tenants' queues keep being served. Nothing is rejected.
//
// Threads spin briefly (yielding) before sleeping, as ThreadPool does.
// Thread safety: Post may be called from any thread. The destructor runs
// every task already posted, then joins.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace embedrec {

class FairThreadPool {
 public:
  // `nice`: the threads' scheduling niceness (Linux: > 0 yields the CPU to
  // the process's other threads), for a pool of background or slow work.
  FairThreadPool(int threads, int max_running_per_key, int nice = 0);
  ~FairThreadPool();
  FairThreadPool(const FairThreadPool&) = delete;
  FairThreadPool& operator=(const FairThreadPool&) = delete;

  void Post(const std::string& key, std::function<void()> task);
  int threads() const { return static_cast<int>(threads_.size()); }
  // A task started at least kDelayed after it was posted (it waited for a
  // thread: the pool, or the cores under it, were busy) within the last
  // `window`. Background work steps aside while it is true (common/step_aside.h).
  static constexpr std::chrono::microseconds kDelayed{500};
  bool DelayedWithin(std::chrono::nanoseconds window) const;

 private:
  struct Task {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point posted;
  };
  struct Queue {
    std::deque<Task> tasks;
    int running = 0;
    bool in_ready = false;
  };
  // REQUIRES: mu_ held. Puts `key` in the rotation if it has work and room.
  void MaybeReadyLocked(const std::string& key, Queue& q);
  void Run();

  static constexpr int kSpinYields = 64;
  const int max_running_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Queue> queues_;
  std::deque<std::string> ready_;   // keys to serve next, round-robin
  std::atomic<size_t> ready_count_{0};
  std::atomic<int64_t> last_delayed_ns_{INT64_MIN / 2};  // steady clock, of the last delayed start
  std::atomic<int> sleepers_{0}, spinners_{0};
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace embedrec
