// Timers on the clock: a fake clock fires them as it is moved (so a
// scheduler is tested without waiting), the real one on its own thread.
#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace embedrec {
namespace {

TEST(FakeClockTest, TimersFireInTimeOrderAsTheClockMoves) {
  FakeClock clock(1000);
  std::vector<std::pair<std::string, int64_t>> fired;
  clock.RunAt(1500, [&] { fired.emplace_back("b", clock.NowMillis()); });
  clock.RunAt(1200, [&] { fired.emplace_back("a", clock.NowMillis()); });
  clock.RunAt(1500, [&] { fired.emplace_back("c", clock.NowMillis()); });  // same time: in the order set
  clock.RunAt(3000, [&] { fired.emplace_back("late", clock.NowMillis()); });
  clock.AdvanceMillis(100);
  EXPECT_TRUE(fired.empty());
  clock.AdvanceMillis(900);  // to 2000
  EXPECT_EQ(fired, (std::vector<std::pair<std::string, int64_t>>{{"a", 1200}, {"b", 1500}, {"c", 1500}}));
  EXPECT_EQ(clock.NowMillis(), 2000);
  clock.RunAt(500, [&] { fired.emplace_back("past", clock.NowMillis()); });  // due already: the next move fires it
  clock.AdvanceMillis(0);
  EXPECT_EQ(fired.back(), (std::pair<std::string, int64_t>{"past", 2000}));
}

TEST(FakeClockTest, APeriodicTimerReArmsItselfAndCanBeCancelled) {
  FakeClock clock(0);
  int runs = 0;
  Clock::TimerId current = 0;
  std::function<void()> tick = [&] {
    ++runs;
    current = clock.RunAt(clock.NowMillis() + 60'000, tick);
  };
  current = clock.RunAt(60'000, tick);
  clock.AdvanceMillis(10 * 60'000);  // ten minutes: ten runs within one move
  EXPECT_EQ(runs, 10);
  EXPECT_TRUE(clock.Cancel(current));
  EXPECT_FALSE(clock.Cancel(current));  // once
  clock.AdvanceMillis(10 * 60'000);
  EXPECT_EQ(runs, 10);
}

TEST(OffsetClockTest, ItsTimeIsTheBasesMovedForwardAndItsTimersTheBasesAtThatOffset) {
  FakeClock base(1'000'000);
  OffsetClock clock(&base, 5'000);
  EXPECT_EQ(clock.NowMillis(), 1'005'000);
  clock.AdvanceMillis(86'400'000);
  EXPECT_EQ(clock.NowMillis(), 1'005'000 + 86'400'000);
  EXPECT_EQ(clock.offset_ms(), 86'405'000);
  int fired = 0;
  clock.RunAt(clock.NowMillis() + 1'000, [&] { ++fired; });  // a second from now, in either's time
  base.AdvanceMillis(999);
  EXPECT_EQ(fired, 0);
  base.AdvanceMillis(1);
  EXPECT_EQ(fired, 1);
  const auto id = clock.RunAt(clock.NowMillis() + 10, [&] { ++fired; });
  EXPECT_TRUE(clock.Cancel(id));
  base.AdvanceMillis(100);
  EXPECT_EQ(fired, 1);
}

TEST(RealClockTest, ATimerFiresOnItsThreadAndACancelledOneNever) {
  std::atomic<int> fired{0}, cancelled_fired{0};
  const int64_t now = RealClock()->NowMillis();
  auto id = RealClock()->RunAt(now + 200, [&] { cancelled_fired = 1; });
  RealClock()->RunAt(now + 20, [&] { fired = 1; });
  EXPECT_TRUE(RealClock()->Cancel(id));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!fired && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(fired, 1);
  EXPECT_GE(RealClock()->NowMillis(), now + 20);
  // The cancelled one's time passes: still nothing (a later timer proves the thread went past it).
  std::atomic<int> after{0};
  RealClock()->RunAt(now + 300, [&] { after = 1; });
  while (!after && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(after, 1);
  EXPECT_EQ(cancelled_fired, 0);
}

TEST(OncePerTest, LetsOneCallerThroughPerInterval) {
  OncePer gate(1000);
  const int64_t t0 = 1'700'000'000'000;
  EXPECT_TRUE(gate.Take(t0));
  EXPECT_FALSE(gate.Take(t0));
  EXPECT_FALSE(gate.Take(t0 + 999));
  EXPECT_TRUE(gate.Take(t0 + 1000));
  EXPECT_FALSE(gate.Take(t0 + 1500));

  // Many callers at once past the interval: exactly one wins.
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { won += gate.Take(t0 + 5000) ? 1 : 0; });
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
}

}  // namespace
}  // namespace embedrec
