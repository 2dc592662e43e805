#include "common/fair_pool.h"

#include "common/thread_priority.h"

namespace embedrec {
namespace {
int64_t SteadyNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

FairThreadPool::FairThreadPool(int threads, int max_running_per_key, int nice)
    : max_running_(max_running_per_key < 1 ? 1 : max_running_per_key) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice] {
      // Failing to lower the priority leaves it as it was.
      if (nice != 0) (void)NiceThisThread(nice);
      Run();
    });
  }
}

FairThreadPool::~FairThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void FairThreadPool::MaybeReadyLocked(const std::string& key, Queue& q) {
  if (!q.in_ready && !q.tasks.empty() && q.running < max_running_) {
    q.in_ready = true;
    ready_.push_back(key);
    ready_count_.fetch_add(1, std::memory_order_relaxed);
  }
}

void FairThreadPool::Post(const std::string& key, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    Queue& q = queues_[key];
    q.tasks.push_back({std::move(task), std::chrono::steady_clock::now()});
    MaybeReadyLocked(key, q);
  }
  if (sleepers_.load() > 0 && spinners_.load() == 0) cv_.notify_one();
}

bool FairThreadPool::DelayedWithin(std::chrono::nanoseconds window) const {
  const int64_t now = SteadyNs(std::chrono::steady_clock::now());
  return now - last_delayed_ns_.load(std::memory_order_relaxed) <= window.count();
}

void FairThreadPool::Run() {
  while (true) {
    spinners_.fetch_add(1);
    for (int i = 0; i < kSpinYields && ready_count_.load(std::memory_order_relaxed) == 0; ++i) {
      std::this_thread::yield();
    }
    spinners_.fetch_sub(1);
    std::function<void()> task;
    std::string key;
    {
      std::unique_lock lock(mu_);
      if (ready_.empty() && !stop_) {
        sleepers_.fetch_add(1);
        cv_.wait(lock, [&] { return stop_ || !ready_.empty(); });
        sleepers_.fetch_sub(1);
      }
      if (ready_.empty()) {
        if (stop_) {
          // Drain: tasks held back only by their key's running cap are still
          // owed; wait until one becomes ready or none is left.
          auto any_queued = [&] {
            for (auto& [k, q] : queues_) {
              if (!q.tasks.empty()) return true;
            }
            return false;
          };
          if (!any_queued()) return;
          sleepers_.fetch_add(1);
          cv_.wait(lock, [&] { return !ready_.empty() || !any_queued(); });
          sleepers_.fetch_sub(1);
        }
        if (ready_.empty()) continue;
      }
      key = std::move(ready_.front());
      ready_.pop_front();
      ready_count_.fetch_sub(1, std::memory_order_relaxed);
      Queue& q = queues_[key];
      q.in_ready = false;
      const auto now = std::chrono::steady_clock::now();
      if (now - q.tasks.front().posted >= kDelayed) {
        last_delayed_ns_.store(SteadyNs(now), std::memory_order_relaxed);
      }
      task = std::move(q.tasks.front().fn);
      q.tasks.pop_front();
      ++q.running;
      MaybeReadyLocked(key, q);  // more of this key may run beside it, after the others
    }
    if (ready_count_.load() > 0 && sleepers_.load() > 0) cv_.notify_one();
    task();
    {
      std::lock_guard lock(mu_);
      Queue& q = queues_[key];
      --q.running;
      MaybeReadyLocked(key, q);
      if (q.tasks.empty() && q.running == 0 && !q.in_ready) queues_.erase(key);
      if (stop_) {
        cv_.notify_all();  // drain waiters watch for "nothing left" too
        continue;
      }
    }
    if (ready_count_.load() > 0 && sleepers_.load() > 0) cv_.notify_one();
  }
}

}  // namespace embedrec
