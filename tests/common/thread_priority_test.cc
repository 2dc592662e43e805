#include "common/thread_priority.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace embedrec {
namespace {

TEST(BackgroundPriorityTest, ParsesIdleOrANicenessAndRefusesTheRest) {
  auto idle = ParseBackgroundPriority("idle");
  ASSERT_TRUE(idle.has_value());
  EXPECT_TRUE(idle->idle);
  auto nice = ParseBackgroundPriority("19");
  ASSERT_TRUE(nice.has_value());
  EXPECT_FALSE(nice->idle);
  EXPECT_EQ(nice->nice, 19);
  EXPECT_EQ(ParseBackgroundPriority("0")->nice, 0);
  for (const char* bad : {"", "20", "-1", "5x", "IDLE", " 5", "batch"}) {
    EXPECT_FALSE(ParseBackgroundPriority(bad).has_value()) << bad;
  }
}

TEST(BackgroundPriorityTest, AppliesToTheCallingThreadAndThoseItStartsOnly) {
  int policy = -1, child_policy = -1, nice = -1;
  std::thread t([&] {
    ASSERT_TRUE(ApplyToThisThread(*ParseBackgroundPriority("idle")));
    policy = sched_getscheduler(0);
    std::thread c([&] { child_policy = sched_getscheduler(0); });  // as OpenMP's threads are started
    c.join();
  });
  t.join();
  EXPECT_EQ(policy, SCHED_IDLE);
  EXPECT_EQ(child_policy, SCHED_IDLE);
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);  // the test's own thread untouched
  std::thread n([&] {
    ASSERT_TRUE(ApplyToThisThread(*ParseBackgroundPriority("13")));
    nice = getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    policy = sched_getscheduler(0);
  });
  n.join();
  EXPECT_EQ(nice, 13);
  EXPECT_EQ(policy, SCHED_OTHER);
}

}  // namespace
}  // namespace embedrec
