// A fixed pool of worker threads for blocking work (storage, hashing), so
// network threads never block.
//
// Thread safety: Post may be called from any thread. The destructor runs
// every task already posted, then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace embedrec {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> task);
  // Tasks posted but not yet started.
  size_t Pending() const;

 private:
  void Run();

  static constexpr int kSpinYields = 64;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::atomic<size_t> pending_{0};  // tasks_.size(), readable without the lock
  std::atomic<int> sleepers_{0};    // workers blocked on cv_
  std::atomic<int> spinners_{0};    // workers spinning for work
  std::vector<std::thread> threads_;
};

}  // namespace embedrec
