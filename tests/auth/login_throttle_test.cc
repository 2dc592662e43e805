#include "auth/login_throttle.h"

#include "test_util.h"

namespace embedrec::auth {
namespace {

TEST(LoginThrottleTest, LocksAfterMaxFailuresAndDoublesTheLockout) {
  FakeClock clock;
  LoginThrottle t(&clock, {.max_failures = 3, .window_seconds = 600, .base_lockout_seconds = 30,
                           .max_lockout_seconds = 100});
  for (int i = 0; i < 2; ++i) t.RecordFailure("a@b.c");
  EXPECT_EQ(t.RetryAfterSeconds("a@b.c"), 0);
  t.RecordFailure("a@b.c");
  EXPECT_EQ(t.RetryAfterSeconds("a@b.c"), 30);
  EXPECT_EQ(t.RetryAfterSeconds("other@b.c"), 0);
  clock.AdvanceSeconds(30);
  EXPECT_EQ(t.RetryAfterSeconds("a@b.c"), 0);
  t.RecordFailure("a@b.c");
  EXPECT_EQ(t.RetryAfterSeconds("a@b.c"), 60);
  clock.AdvanceSeconds(60);
  t.RecordFailure("a@b.c");
  EXPECT_EQ(t.RetryAfterSeconds("a@b.c"), 100);  // capped
}

TEST(LoginThrottleTest, SuccessClearsAndOldFailuresExpire) {
  FakeClock clock;
  LoginThrottle t(&clock, {.max_failures = 2, .window_seconds = 60});
  t.RecordFailure("k");
  t.RecordSuccess("k");
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
  clock.AdvanceSeconds(61);
  t.RecordFailure("k");  // the earlier failure fell out of the window
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
}

}  // namespace
}  // namespace embedrec::auth
