// The Redis client's URL parsing and connection (the Redis backends' suites
// exercise its commands against a real server).
#include "redis/redis_pool.h"

#include "test_util.h"

namespace embedrec::redis {
namespace {

TEST(RedisUrlTest, ParsesTheUsualForms) {
  auto o = ParseRedisUrl("redis://:s3cret@10.0.0.5:6380/2");
  ASSERT_OK(o);
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->db, 2);
  auto d = ParseRedisUrl("redis://cache");
  ASSERT_OK(d);
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  EXPECT_EQ(ParseRedisUrl("http://cache").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRedisUrl("redis://cache/x").status().code(), StatusCode::kInvalidArgument);
}

TEST(RedisPoolTest, AServerThatDoesNotAnswerIsUnavailable) {
  EXPECT_EQ(RedisPool::Open({.host = "127.0.0.1", .port = 1}).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace embedrec::redis
