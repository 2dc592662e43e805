#include "common/status.h"

#include <gtest/gtest.h>

namespace embedrec {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd", {{"field", "x"}});
  return x / 2;
}

Status Quarter(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  *out = q;
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ReasonDefaultsToCodeNameAndCanBeOverridden) {
  EXPECT_EQ(Status::NotFound("x").reason(), "not_found");
  EXPECT_EQ(Status::AlreadyExists("x", "duplicate_email").reason(), "duplicate_email");
  EXPECT_EQ(Status::Unauthenticated("x").WithReason("token_expired").reason(), "token_expired");
}

TEST(StatusTest, DetailsAreLookedUpByKey) {
  Status s = Status::InvalidArgument("bad", {{"field", "email"}});
  EXPECT_EQ(s.detail("field").value(), "email");
  EXPECT_FALSE(s.detail("other").has_value());
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  int out = -1;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);  // 6/2 = 3 is odd
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.detail("field").value(), "x");
}

}  // namespace
}  // namespace embedrec
