#include "common/fair_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace embedrec {
namespace {

TEST(FairThreadPoolTest, RunsEveryTaskAndDrainsOnDestruction) {
  std::atomic<int> done{0};
  {
    FairThreadPool pool(3, 2);
    for (int i = 0; i < 1000; ++i) {
      pool.Post("k" + std::to_string(i % 7), [&] { done.fetch_add(1); });
    }
  }
  EXPECT_EQ(done.load(), 1000);
}

TEST(FairThreadPoolTest, ABlockedTenantNeverHoldsThePool) {
  FairThreadPool pool(2, 1);  // two workers, one task per tenant at a time
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> a_started{0};
  for (int i = 0; i < 5; ++i) {
    pool.Post("tenant-a", [&, gate] {
      a_started.fetch_add(1);
      gate.wait();
    });
  }
  std::promise<void> b_done;
  pool.Post("tenant-b", [&] { b_done.set_value(); });
  // B runs although A has five tasks queued and one running, blocked.
  ASSERT_EQ(b_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(a_started.load(), 1);
  release.set_value();
}

TEST(FairThreadPoolTest, RespectsTheRunningCapPerKey) {
  std::atomic<int> running{0}, peak{0};
  {
    FairThreadPool pool(4, 2);
    for (int i = 0; i < 200; ++i) {
      pool.Post("same", [&] {
        int now = running.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::yield();
        running.fetch_sub(1);
      });
    }
  }
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST(FairThreadPoolTest, TellsWhenATaskWaitedForAThread) {
  using namespace std::chrono_literals;
  FairThreadPool pool(1, 1);
  EXPECT_FALSE(pool.DelayedWithin(1h));  // nothing ran yet
  std::promise<void> release, started;
  std::shared_future<void> gate = release.get_future().share();
  pool.Post("a", [&, gate] {
    started.set_value();
    gate.wait();
  });
  started.get_future().wait();
  std::promise<void> second;
  pool.Post("b", [&] { second.set_value(); });  // waits behind the busy thread
  std::this_thread::sleep_for(2 * FairThreadPool::kDelayed);
  EXPECT_FALSE(pool.DelayedWithin(1h));  // told when it starts, not before
  release.set_value();
  ASSERT_EQ(second.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(pool.DelayedWithin(1h));
  EXPECT_FALSE(pool.DelayedWithin(-1h));  // the window counts back from now
}

}  // namespace
}  // namespace embedrec
