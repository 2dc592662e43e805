// The upload progress board in this process's memory (ingest/upload_progress.h).
#include "ingest/upload_progress.h"

#include <map>
#include <mutex>

namespace embedrec::ingest {
namespace {

constexpr int64_t kKeepMs = 600'000;

class MemoryBoard final : public UploadProgressBoard {
 public:
  explicit MemoryBoard(const Clock* clock) : clock_(clock) {}

  void Set(const std::string& tenant_id, const std::string& id, const UploadProgress& p) override {
    const int64_t now = clock_->NowMillis();
    std::lock_guard lock(mu_);
    if (entries_.size() >= 10'000) Prune(now);
    entries_[tenant_id + '\n' + id] = {p, now};
  }
  std::optional<UploadProgress> Get(const std::string& tenant_id, const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id + '\n' + id);
    if (it == entries_.end() || clock_->NowMillis() - it->second.at_ms > kKeepMs) return std::nullopt;
    return it->second.progress;
  }

 private:
  struct Entry {
    UploadProgress progress;
    int64_t at_ms = 0;
  };
  void Prune(int64_t now) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now - it->second.at_ms > kKeepMs || it->second.progress.done ? entries_.erase(it) : std::next(it);
    }
  }
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace

std::unique_ptr<UploadProgressBoard> NewMemoryUploadProgressBoard(const Clock* clock) {
  return std::make_unique<MemoryBoard>(clock);
}

}  // namespace embedrec::ingest
