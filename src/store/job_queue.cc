// The job queue in this process's memory (store/job_queue.h).
#include "store/job_queue.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace embedrec::store {
namespace {

class MemoryJobQueue final : public JobQueue {
 public:
  Status Enqueue(const std::string& tenant_id, const std::string& job_id, const std::string& holder, int64_t now_ms,
                 int64_t lease_ms) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, j] : jobs_) {
      if (j.tenant_id == tenant_id) return Status::AlreadyExists("the tenant already has a queued job " + id);
    }
    if (jobs_.count(job_id)) return Status::AlreadyExists("job " + job_id + " is already queued");
    QueuedJob j{job_id, tenant_id, now_ms, holder, holder.empty() ? 0 : now_ms + lease_ms, holder.empty() ? 0 : 1,
                false};
    jobs_[job_id] = j;
    return Status::Ok();
  }

  StatusOr<std::optional<QueuedJob>> Claim(const std::string& node, int64_t now_ms, int64_t lease_ms) override {
    std::lock_guard lock(mu_);
    QueuedJob* best = nullptr;
    for (auto& [id, j] : jobs_) {
      if (!j.holder.empty() && j.lease_until_ms >= now_ms) continue;
      if (!best || std::tie(j.enqueued_at_ms, j.job_id) < std::tie(best->enqueued_at_ms, best->job_id)) best = &j;
    }
    if (!best) return std::optional<QueuedJob>();
    best->holder = node;
    best->lease_until_ms = now_ms + lease_ms;
    ++best->attempts;
    return std::optional<QueuedJob>(*best);
  }

  StatusOr<std::vector<QueuedJob>> Renew(const std::string& node, int64_t now_ms, int64_t lease_ms) override {
    std::lock_guard lock(mu_);
    std::vector<QueuedJob> out;
    for (auto& [id, j] : jobs_) {
      if (j.holder != node) continue;
      j.lease_until_ms = now_ms + lease_ms;
      out.push_back(j);
    }
    return out;
  }

  Status Release(const std::string& job_id, const std::string& node) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || it->second.holder != node) return Status::NotFound("job " + job_id + " is not held");
    it->second.holder.clear();
    it->second.lease_until_ms = 0;
    return Status::Ok();
  }

  Status Remove(const std::string& job_id, const std::string& node) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    if (it != jobs_.end() && it->second.holder == node) jobs_.erase(it);
    return Status::Ok();
  }

  StatusOr<CancelOutcome> RequestCancel(const std::string& job_id) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return CancelOutcome::kAbsent;
    if (it->second.holder.empty()) {
      jobs_.erase(it);
      return CancelOutcome::kRemoved;
    }
    it->second.cancel_requested = true;
    return CancelOutcome::kFlagged;
  }

  StatusOr<std::optional<QueuedJob>> Get(const std::string& job_id) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    return it == jobs_.end() ? std::optional<QueuedJob>() : std::optional<QueuedJob>(it->second);
  }

  StatusOr<std::optional<QueuedJob>> OfTenant(const std::string& tenant_id) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, j] : jobs_) {
      if (j.tenant_id == tenant_id) return std::optional<QueuedJob>(j);
    }
    return std::optional<QueuedJob>();
  }

  StatusOr<int> WaitingAhead(const std::string& job_id) override {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return 0;
    const QueuedJob& me = it->second;
    return static_cast<int>(std::count_if(jobs_.begin(), jobs_.end(), [&](const auto& kv) {
      const QueuedJob& j = kv.second;
      return j.holder.empty() && std::tie(j.enqueued_at_ms, j.job_id) < std::tie(me.enqueued_at_ms, me.job_id);
    }));
  }

 private:
  std::mutex mu_;
  std::map<std::string, QueuedJob> jobs_;
};

}  // namespace

std::unique_ptr<JobQueue> NewMemoryJobQueue() { return std::make_unique<MemoryJobQueue>(); }

}  // namespace embedrec::store
