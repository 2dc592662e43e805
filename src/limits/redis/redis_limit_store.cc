// Limits' counters in Redis (limits/limit_store.h): each operation is one
// Lua script, so it is atomic across nodes; keys expire once they hold
// nothing worth keeping (a full bucket, a window with no lockout).
#include <algorithm>
#include <cmath>

#include "limits/limit_store.h"
#include "redis/redis_pool.h"

namespace embedrec::limits {
namespace {

using redis::RedisOptions;
using redis::RedisPool;
using redis::RedisValue;
using redis::ParseRedisUrl;

// KEYS[1]: the bucket; ARGV: per_second, burst, now_ms, want. Returns {granted, retry_after_ms}.
constexpr const char* kTake = R"lua(
local rate, burst, now, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  at = now
end
local granted, retry = 0, 0
if tokens >= 1 then
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
elseif rate > 0 then
  retry = math.ceil((1 - tokens) * 1000 / rate)
else
  retry = 3600000
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
local full_in = 1000
if rate > 0 then full_in = math.ceil((burst - tokens) * 1000 / rate) + 1000 end
redis.call('PEXPIRE', KEYS[1], full_in)
return {granted, retry}
)lua";

// KEYS[1]: the key's failures; ARGV: now, window, max_failures, base, max lockout. Returns the lockout's end.
constexpr const char* kFail = R"lua(
local now, window, maxf = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base, maxl = tonumber(ARGV[4]), tonumber(ARGV[5])
local e = redis.call('HMGET', KEYS[1], 'n', 'ws', 'lu')
local n, ws, lu = tonumber(e[1]) or 0, tonumber(e[2]) or 0, tonumber(e[3]) or 0
if now - ws > window and lu <= now then
  n, ws = 0, now
end
n = n + 1
if n >= maxf then
  local extra = math.min(n - maxf, 20)
  lu = now + math.min(base * 2 ^ extra, maxl)
end
redis.call('HSET', KEYS[1], 'n', n, 'ws', ws, 'lu', lu)
redis.call('PEXPIRE', KEYS[1], math.max(ws + window, lu) - now + 1000)
if lu > now then return lu end
return 0
)lua";

class RedisLimitStore final : public LimitStore {
 public:
  explicit RedisLimitStore(std::unique_ptr<RedisPool> pool) : pool_(std::move(pool)) {}

  StatusOr<Taken> Take(const std::string& key, const BucketPolicy& p, int64_t now_ms, int want) override {
    ASSIGN_OR_RETURN(auto v, pool_->Command({"EVAL", kTake, "1", Key(key), Number(p.per_second), Number(p.burst),
                                             std::to_string(now_ms), std::to_string(std::max(want, 1))}));
    if (v.kind != RedisValue::Kind::kArray || v.items.size() != 2) return Status::Internal("Redis: odd bucket reply");
    const int granted = static_cast<int>(v.items[0].integer);
    return Taken{granted, v.items[1].integer};
  }

  StatusOr<int64_t> Fail(const std::string& key, const FailurePolicy& p, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto v, pool_->Command({"EVAL", kFail, "1", Key(key), std::to_string(now_ms),
                                             std::to_string(p.window_ms), std::to_string(p.max_failures),
                                             std::to_string(p.base_lockout_ms), std::to_string(p.max_lockout_ms)}));
    return v.integer;
  }

  StatusOr<int64_t> LockedUntil(const std::string& key, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto v, pool_->Command({"HGET", Key(key), "lu"}));
    if (v.kind != RedisValue::Kind::kString) return int64_t{0};
    const int64_t until = std::strtoll(v.text.c_str(), nullptr, 10);
    return until > now_ms ? until : 0;
  }

  Status Clear(const std::string& key) override { return pool_->Command({"DEL", Key(key)}).status(); }

 private:
  static std::string Key(const std::string& key) { return "embedrec:limits:" + key; }
  static std::string Number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6f", v);
    return buf;
  }

  std::unique_ptr<RedisPool> pool_;
};

}  // namespace

StatusOr<std::unique_ptr<LimitStore>> OpenRedisLimitStore(const std::string& url) {
  ASSIGN_OR_RETURN(RedisOptions options, ParseRedisUrl(url));
  ASSIGN_OR_RETURN(auto pool, RedisPool::Open(options));
  return std::unique_ptr<LimitStore>(new RedisLimitStore(std::move(pool)));
}

}  // namespace embedrec::limits
