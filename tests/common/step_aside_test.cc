#include "common/step_aside.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace embedrec {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void Work(std::chrono::milliseconds d) {  // busy, as a training batch is
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

TEST(StepAsideTest, NeverPausesWhenNoRequestWaits) {
  int asked = 0;
  StepAside aside([&] {
    ++asked;
    return false;
  });
  for (int i = 0; i < 5; ++i) {
    Work(2ms);
    aside.Between();
  }
  EXPECT_EQ(asked, 5);
  EXPECT_EQ(aside.paused(), 0ns);
}

TEST(StepAsideTest, WhileRequestsWaitPausesUpToItsRatioOfTheWorkJustDone) {
  StepAside aside([] { return true; });
  Work(5ms);
  const auto t0 = Clock::now();
  aside.Between();
  const auto took = Clock::now() - t0;
  // At least kMaxRatio × the 5 ms of work (the pause runs out its allowance
  // while requests wait) ...
  EXPECT_GE(aside.paused(), 5ms * StepAside::kMaxRatio);
  EXPECT_GE(took, 5ms * StepAside::kMaxRatio);
  // ... and the work's time is counted from the previous call's end, pause
  // excluded: a second unit as short pauses as briefly again (not for the
  // first pause's length).
  const auto first = aside.paused();
  Work(1ms);
  aside.Between();
  EXPECT_LT(aside.paused() - first, first);
}

TEST(StepAsideTest, APauseEndsWhenNoRequestWaitsAnyMore) {
  std::atomic<int> asked{0};
  StepAside aside([&] { return ++asked <= 3; });  // the requests are served after two naps
  Work(50ms);                                      // allows 200 ms
  aside.Between();
  EXPECT_GT(aside.paused(), 0ns);
  EXPECT_LT(aside.paused(), 40ms);  // a few naps of kNap, far from the 200 ms allowed
}

TEST(StepAsideTest, APauseIsCappedSoACancelIsSeenSoon) {
  StepAside aside([] { return true; }, 100ms);
  Work(100ms);  // kMaxRatio × this would be 400 ms
  aside.Between();
  EXPECT_GE(aside.paused(), 100ms);
  EXPECT_LT(aside.paused(), 250ms);  // far below the 400 ms uncapped
}

TEST(StepAsideTest, WithoutASourceItNeverPauses) {
  StepAside aside(nullptr);
  Work(2ms);
  aside.Between();
  EXPECT_EQ(aside.paused(), 0ns);
}

}  // namespace
}  // namespace embedrec
