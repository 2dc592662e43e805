#include "common/thread_pool.h"

namespace embedrec {

ThreadPool::ThreadPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
    pending_.fetch_add(1, std::memory_order_relaxed);
  }
  // A worker that is spinning will pick the task up; wake a sleeper only when
  // none is awake (a futex wake and a context switch per task otherwise).
  if (sleepers_.load() > 0 && spinners_.load() == 0) cv_.notify_one();
}

size_t ThreadPool::Pending() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void ThreadPool::Run() {
  while (true) {
    // Spin briefly (yielding the core) before sleeping: under load the next
    // task usually arrives within microseconds.
    spinners_.fetch_add(1);
    for (int i = 0; i < kSpinYields && pending_.load(std::memory_order_relaxed) == 0; ++i) {
      std::this_thread::yield();
    }
    spinners_.fetch_sub(1);
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      if (tasks_.empty() && !stop_) {
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        sleepers_.fetch_sub(1);
      }
      if (tasks_.empty()) return;  // stop_ and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      pending_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
  }
}

}  // namespace embedrec
