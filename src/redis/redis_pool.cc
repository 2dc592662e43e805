#include "redis/redis_pool.h"

#include <hiredis/hiredis.h>

#include <boost/url/parse.hpp>

namespace embedrec::redis {
namespace {

timeval Millis(int ms) { return {ms / 1000, (ms % 1000) * 1000}; }

RedisValue Copy(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      v.kind = RedisValue::Kind::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      v.kind = r->type == REDIS_REPLY_STRING ? RedisValue::Kind::kString : RedisValue::Kind::kStatus;
      v.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.kind = RedisValue::Kind::kArray;
      for (size_t i = 0; i < r->elements; ++i) v.items.push_back(Copy(r->element[i]));
      break;
    default:
      break;
  }
  return v;
}

redisReply* Run(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
}

}  // namespace

StatusOr<RedisOptions> ParseRedisUrl(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "redis" || u->host().empty()) {
    return Status::InvalidArgument("not a redis://[:password@]host[:port][/db] URL");
  }
  RedisOptions o;
  o.host = u->host();
  if (u->has_port()) o.port = u->port_number();
  if (u->has_password()) o.password = u->password();
  std::string path = u->path();
  if (!path.empty() && path != "/") {
    try {
      o.db = std::stoi(path.substr(1));
    } catch (const std::exception&) {
      return Status::InvalidArgument("the Redis URL's path is not a database number");
    }
  }
  return o;
}

StatusOr<std::unique_ptr<RedisPool>> RedisPool::Open(const RedisOptions& options) {
  std::unique_ptr<RedisPool> pool(new RedisPool(options));
  auto pong = pool->Command({"PING"});
  if (!pong.ok()) {
    return Status::Unavailable("Redis at " + options.host + ":" + std::to_string(options.port) +
                               " does not answer: " + pong.status().message());
  }
  return pool;
}

RedisPool::~RedisPool() {
  for (redisContext* c : idle_) redisFree(c);
}

StatusOr<redisContext*> RedisPool::Connect() {
  redisContext* c = redisConnectWithTimeout(options_.host.c_str(), options_.port, Millis(options_.connect_timeout_ms));
  if (!c || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return Status::Unavailable(why);
  }
  redisSetTimeout(c, Millis(options_.command_timeout_ms));
  auto setup = [&](const std::vector<std::string>& argv) -> Status {
    redisReply* r = Run(c, argv);
    if (!r) return Status::Unavailable(c->errstr);
    const bool error = r->type == REDIS_REPLY_ERROR;
    std::string text = error ? std::string(r->str, r->len) : "";
    freeReplyObject(r);
    // The password is never in the message: Redis's error text does not carry it.
    return error ? Status::Unavailable("Redis refused " + argv[0] + ": " + text) : Status::Ok();
  };
  Status s = Status::Ok();
  if (!options_.password.empty()) s = setup({"AUTH", options_.password});
  if (s.ok() && options_.db != 0) s = setup({"SELECT", std::to_string(options_.db)});
  if (!s.ok()) {
    redisFree(c);
    return s;
  }
  return c;
}

StatusOr<RedisValue> RedisPool::Command(const std::vector<std::string>& argv) {
  redisContext* c = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
    }
  }
  if (!c) {
    ASSIGN_OR_RETURN(c, Connect());
  }
  redisReply* r = Run(c, argv);
  if (!r) {
    // Lost (or timed out mid-reply): the connection cannot be trusted again.
    Status s = Status::Unavailable(std::string("Redis: ") + (c->errstr[0] ? c->errstr : "no reply"));
    redisFree(c);
    return s;
  }
  RedisValue v = Copy(r);
  const bool error = r->type == REDIS_REPLY_ERROR;
  freeReplyObject(r);
  {
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.pool_size) {
      idle_.push_back(c);
      c = nullptr;
    }
  }
  if (c) redisFree(c);
  if (error) return Status::Internal("Redis: " + v.text);
  return v;
}

}  // namespace embedrec::redis
