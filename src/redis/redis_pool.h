// The Redis client every Redis backend uses (limits, upload progress): a
// small pool of blocking hiredis connections (Debian's hiredis 0.14 has no
// Boost.Asio adapter; the calls are single short round trips made from
// worker threads, so blocking calls with short timeouts are enough). A connection
// that failed is dropped and made again on the next call.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

struct redisContext;

namespace embedrec::redis {

// A reply, copied out of hiredis's.
struct RedisValue {
  enum class Kind { kNil, kInteger, kString, kStatus, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string text;
  std::vector<RedisValue> items;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 1000;
  int pool_size = 4;
};

// "redis://[:password@]host[:port][/db]". kInvalidArgument when it is not.
StatusOr<RedisOptions> ParseRedisUrl(const std::string& url);

class RedisPool {
 public:
  // Connects once (kUnavailable when the server does not answer).
  static StatusOr<std::unique_ptr<RedisPool>> Open(const RedisOptions& options);
  ~RedisPool();

  // Runs one command. An error reply is kInternal (its text), a lost or
  // refused connection kUnavailable.
  StatusOr<RedisValue> Command(const std::vector<std::string>& argv);

 private:
  explicit RedisPool(RedisOptions o) : options_(std::move(o)) {}
  StatusOr<redisContext*> Connect();

  RedisOptions options_;
  std::mutex mu_;
  std::vector<redisContext*> idle_;
};

}  // namespace embedrec::redis
