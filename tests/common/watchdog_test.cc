// The watchdog (common/watchdog.h) and the stacks it shows (common/thread_stack.h).
#include "common/watchdog.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/thread_stack.h"
#include "test_util.h"

namespace embedrec {
namespace {

using testing::Eventually;

TEST(ThreadStackTest, AThreadBlockedOnAMutexShowsWhereItWaits) {
  std::mutex held;
  std::unique_lock lock(held);
  std::atomic<bool> started{false};
  std::thread blocked([&] {
    started = true;
    std::lock_guard wait(held);  // blocks until the test lets go
  });
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  std::string stack;
  // Until it is inside the lock's wait (it may still be on its way there).
  ASSERT_TRUE(Eventually([&] {
    stack = DescribeStack(StackOf(blocked.native_handle(), std::chrono::milliseconds(500)));
    return stack.find("lock") != std::string::npos;
  })) << stack;
  EXPECT_NE(stack.find("#0 "), std::string::npos) << stack;
  lock.unlock();
  blocked.join();
}

TEST(ThreadStackTest, AFinishedCaptureLeavesTheNextOneWorking) {
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(StackOf(busy.native_handle(), std::chrono::milliseconds(500)).empty()) << i;
  }
  stop = true;
  busy.join();
}

TEST(WatchdogTest, AThreadSilentPastTheStallIsReportedOnceWithItsStack) {
  std::mutex mu;
  std::vector<Watchdog::Stall> seen;
  Watchdog dog({.stall = std::chrono::milliseconds(100),
                .check_every = std::chrono::milliseconds(10),
                .on_stall = [&](const Watchdog::Stall& s) {
                  std::lock_guard lock(mu);
                  seen.push_back(s);
                }});
  std::mutex gate;
  std::unique_lock closed(gate);  // the watched thread blocks on it: its stall
  std::atomic<int> phase{0};
  std::thread watched([&] {
    const int slot = dog.Watch("the watched thread");
    for (int i = 0; i < 20; ++i) {  // beating well within the stall: nothing to report
      dog.Beat(slot);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    phase = 1;
    { std::lock_guard blocked(gate); }
    dog.Beat(slot);  // running again
    phase = 2;
    while (phase.load() != 3) {
      dog.Beat(slot);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    dog.Forget(slot);
  });
  ASSERT_TRUE(Eventually([&] { return phase.load() == 1; }));
  EXPECT_EQ(dog.stalls(), 0);
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return !seen.empty();
  }));
  // Still blocked a while longer: reported once, not on every check.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(150);
  ASSERT_TRUE(Eventually([&] { return std::chrono::steady_clock::now() >= until; }));
  closed.unlock();
  ASSERT_TRUE(Eventually([&] { return phase.load() == 2; }));
  phase = 3;
  watched.join();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(dog.stalls(), 1);
  EXPECT_EQ(seen[0].thread, "the watched thread");
  EXPECT_GE(seen[0].silent_ms, 100);
  EXPECT_NE(seen[0].stack.find("lock"), std::string::npos) << seen[0].stack;
}

TEST(WatchdogTest, AForgottenThreadIsNotWatched) {
  Watchdog dog({.stall = std::chrono::milliseconds(20), .check_every = std::chrono::milliseconds(5)});
  std::thread gone([&] { dog.Forget(dog.Watch("gone")); });
  gone.join();
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  ASSERT_TRUE(Eventually([&] { return std::chrono::steady_clock::now() >= until; }));
  EXPECT_EQ(dog.stalls(), 0);
}

}  // namespace
}  // namespace embedrec
