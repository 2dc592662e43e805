// The upload progress board in Redis (ingest/upload_progress.h): one key per
// upload holding "bytes lines done", expiring 10 minutes after its last write.
#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>

#include "ingest/upload_progress.h"
#include "redis/redis_pool.h"

namespace embedrec::ingest {
namespace {

class RedisBoard final : public UploadProgressBoard {
 public:
  RedisBoard(std::unique_ptr<redis::RedisPool> pool, const Clock* clock) : pool_(std::move(pool)), clock_(clock) {}

  void Set(const std::string& tenant_id, const std::string& id, const UploadProgress& p) override {
    const std::string key = Key(tenant_id, id);
    const int64_t now = clock_->NowMillis();
    {
      std::lock_guard lock(mu_);
      if (p.done) {
        last_write_.erase(key);
      } else {
        auto [it, fresh] = last_write_.try_emplace(key, now);
        if (!fresh && now - it->second < 250) return;  // the next one tells more
        it->second = now;
        if (last_write_.size() > 10'000) last_write_.clear();  // abandoned uploads: forget their pacing
      }
    }
    auto r = pool_->Command({"SET", key,
                             std::to_string(p.bytes) + " " + std::to_string(p.lines) + " " + (p.done ? "1" : "0"),
                             "PX", "600000"});
    if (!r.ok()) spdlog::debug("upload progress not shared: {}", r.status().ToString());
  }

  std::optional<UploadProgress> Get(const std::string& tenant_id, const std::string& id) override {
    auto r = pool_->Command({"GET", Key(tenant_id, id)});
    if (!r.ok() || r->kind != redis::RedisValue::Kind::kString) return std::nullopt;
    UploadProgress p;
    int done = 0;
    if (std::sscanf(r->text.c_str(), "%" SCNd64 " %" SCNd64 " %d", &p.bytes, &p.lines, &done) != 3) return std::nullopt;
    p.done = done != 0;
    return p;
  }

 private:
  static std::string Key(const std::string& tenant_id, const std::string& id) {
    return "embedrec:upload-progress:" + tenant_id + ":" + id;
  }
  std::unique_ptr<redis::RedisPool> pool_;
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, int64_t> last_write_;  // key → when last written (pacing)
};

}  // namespace

StatusOr<std::unique_ptr<UploadProgressBoard>> OpenRedisUploadProgressBoard(const std::string& url,
                                                                            const Clock* clock) {
  ASSIGN_OR_RETURN(auto options, redis::ParseRedisUrl(url));
  ASSIGN_OR_RETURN(auto pool, redis::RedisPool::Open(options));
  return std::unique_ptr<UploadProgressBoard>(new RedisBoard(std::move(pool), clock));
}

}  // namespace embedrec::ingest
