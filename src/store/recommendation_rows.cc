// The recommendation log's queue, the same over every backend: the answer
// path only queues; one background thread writes a batch every flush
// interval (or as soon as kBatch records wait), a transaction per tenant.
#include "store/recommendation_rows.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/json_text.h"
#include "common/thread_priority.h"

namespace embedrec::store {

std::string EncodeShownItems(const std::vector<ShownItem>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('[');
    AppendJsonString(items[i].item_id, &out);
    out.push_back(',');
    AppendJsonNumber(items[i].score, &out);
    out.push_back(']');
  }
  out.push_back(']');
  return out;
}

std::vector<ShownItem> DecodeShownItems(const std::string& text) {
  std::vector<ShownItem> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (!e.is_array() || e.as_array().size() != 2 || !e.as_array()[0].is_string()) continue;
    const auto& s = e.as_array()[1];
    out.push_back({std::string(e.as_array()[0].as_string()), s.is_number() ? s.to_number<double>() : 0.0});
  }
  return out;
}

namespace {

class QueuedRecommendationLog final : public RecommendationLog {
 public:
  QueuedRecommendationLog(std::unique_ptr<RecommendationRows> rows, const Clock* clock,
                          RecommendationLogOptions options)
      : clock_(clock), options_(options), rows_(std::move(rows)), writer_([this] { WriteLoop(); }) {}

  ~QueuedRecommendationLog() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();  // writes what was queued first
  }

  void Append(RecommendationRecord record) override {
    bool full_batch;
    {
      std::lock_guard lock(mu_);
      if (dropped_tenants_.count(record.tenant_id)) return;
      if (queue_.size() >= options_.max_queued) {
        ++dropped_;
        return;
      }
      queue_.push_back(std::move(record));
      ++appended_;
      full_batch = queue_.size() == kBatch;
    }
    if (full_batch) cv_.notify_one();
  }

  Status Flush() override {
    std::unique_lock lock(mu_);
    const uint64_t target = appended_;
    if (settled_ >= target) return Status::Ok();  // nothing waiting: the writer sleeps on
    flush_wanted_ = true;
    cv_.notify_all();
    done_cv_.wait(lock, [&] { return settled_ >= target || stop_; });
    return Status::Ok();
  }

  StatusOr<std::optional<RecommendationRecord>> Find(const std::string& tenant_id,
                                                     const std::string& id) override {
    RETURN_IF_ERROR(Flush());
    return Absent(rows_->Find(tenant_id, id), std::optional<RecommendationRecord>());
  }

  StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id, const Range& range) override {
    RETURN_IF_ERROR(Flush());
    if (range.limit <= 0) return std::vector<RecommendationRecord>();
    return Absent(rows_->Read(tenant_id, range), std::vector<RecommendationRecord>());
  }

  StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id, const std::string& user_id,
                                                       int64_t from_ms, int64_t to_ms, int limit) override {
    if (limit <= 0 || user_id.empty()) return std::vector<RecommendationRecord>();
    auto read = Absent(rows_->ReadUser(tenant_id, user_id, from_ms, to_ms, limit), std::vector<RecommendationRecord>());
    TellResident(tenant_id);  // the read may have filled the tenant's index
    return read;
  }

  StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                size_t limit) override {
    auto read = Absent(rows_->UsersSince(tenant_id, from_ms, limit), std::vector<std::string>());
    TellResident(tenant_id);
    return read;
  }

  Status DropTenant(const std::string& tenant_id) override {
    {
      std::lock_guard lock(mu_);
      dropped_tenants_.insert(tenant_id);
      settled_ += std::erase_if(queue_, [&](const RecommendationRecord& r) { return r.tenant_id == tenant_id; });
    }
    done_cv_.notify_all();
    std::lock_guard write(write_mu_);  // a batch being written has finished
    rows_->Close(tenant_id);
    last_prune_.erase(tenant_id);
    ForgetTold(tenant_id);
    return Status::Ok();
  }

  void CloseTenant(const std::string& tenant_id) override {
    std::lock_guard write(write_mu_);  // not while a batch is being written
    rows_->Close(tenant_id);
    ForgetTold(tenant_id);
  }

  uint64_t dropped() const override {
    std::lock_guard lock(mu_);
    return dropped_;
  }

  int64_t resident_bytes() const override { return rows_->resident_bytes(); }

  void SetResidentReport(ResidentReport report) override {
    std::lock_guard lock(mu_);  // the writer reads it after taking a batch under mu_
    report_ = std::move(report);
  }

 private:
  static constexpr size_t kBatch = 500;
  static constexpr int64_t kPruneEveryMs = 3'600'000;

  // A tenant without a space has no records: an empty answer, not an error.
  template <typename T>
  static StatusOr<T> Absent(StatusOr<T> read, T empty) {
    if (!read.ok() && read.status().code() == StatusCode::kNotFound) return empty;
    return read;
  }

  void WriteLoop() {
    // Background work: the answers it logs come first (Linux: per thread).
    (void)NiceThisThread(10);
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms),
                   [&] { return stop_ || flush_wanted_ || queue_.size() >= kBatch; });
      flush_wanted_ = false;
      if (queue_.empty()) {
        if (stop_) return;
        continue;
      }
      std::vector<RecommendationRecord> batch;
      batch.reserve(queue_.size());
      for (auto& r : queue_) batch.push_back(std::move(r));
      queue_.clear();
      std::unique_lock write(write_mu_);
      lock.unlock();
      const uint64_t lost = WriteBatch(batch);
      write.unlock();
      if (report_) {  // with no lock held: the report may close tenants
        std::set<std::string> tenants;
        for (const auto& r : batch) tenants.insert(r.tenant_id);
        for (const auto& t : tenants) TellResident(t);
      }
      lock.lock();
      dropped_ += lost;
      settled_ += batch.size();
      done_cv_.notify_all();
    }
  }

  // Writes the batch, a transaction per tenant; returns the records lost.
  uint64_t WriteBatch(std::vector<RecommendationRecord>& batch) {
    std::map<std::string, std::vector<const RecommendationRecord*>> by_tenant;
    for (const auto& r : batch) by_tenant[r.tenant_id].push_back(&r);
    uint64_t lost = 0;
    const int64_t now = clock_->NowMillis();
    for (auto& [tenant_id, records] : by_tenant) {
      {
        std::lock_guard lock(mu_);
        if (dropped_tenants_.count(tenant_id)) continue;
      }
      int64_t& last = last_prune_[tenant_id];  // only this thread touches it, under write_mu_
      int64_t prune_before = 0;
      if (now - last > kPruneEveryMs) prune_before = now - options_.retention_days * 86'400'000;
      Status s = rows_->Write(tenant_id, records, prune_before);
      if (s.ok()) {
        if (prune_before > 0) last = now;
        continue;
      }
      // A tenant deleted meanwhile loses its records quietly.
      if (s.code() != StatusCode::kNotFound) {
        spdlog::warn("recommendation log of tenant {}: {} records lost: {}", tenant_id, records.size(),
                     s.ToString());
      }
      lost += records.size();
    }
    return lost;
  }

  // Tells report_ the tenant's resident bytes when they moved enough since
  // last told. Called with none of the log's locks held.
  void TellResident(const std::string& tenant_id) {
    if (!report_) return;
    const uint64_t closes = closes_.load();
    const int64_t bytes = rows_->resident_bytes(tenant_id);
    {
      std::lock_guard lock(told_mu_);
      if (closes_.load() != closes) return;  // a tenant closed meanwhile: maybe this one (told when next used)
      auto it = told_.find(tenant_id);
      const int64_t last = it == told_.end() ? 0 : it->second;
      if (std::abs(bytes - last) <= std::min<int64_t>(kTellStep, last / 16)) return;  // as serving::Activity's
      if (bytes == 0) told_.erase(tenant_id);
      else told_[tenant_id] = bytes;
    }
    report_(tenant_id, bytes);
  }
  void ForgetTold(const std::string& tenant_id) {
    std::lock_guard lock(told_mu_);
    told_.erase(tenant_id);
    closes_.fetch_add(1);
  }
  static constexpr int64_t kTellStep = 64 << 10;

  const Clock* clock_;
  const RecommendationLogOptions options_;
  const std::unique_ptr<RecommendationRows> rows_;
  ResidentReport report_;  // set before use
  std::mutex told_mu_;
  std::unordered_map<std::string, int64_t> told_;  // GUARDED_BY(told_mu_): bytes last told per tenant
  std::atomic<uint64_t> closes_{0};                // written under told_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<RecommendationRecord> queue_;  // GUARDED_BY(mu_)
  uint64_t appended_ = 0, settled_ = 0, dropped_ = 0;
  bool stop_ = false, flush_wanted_ = false;
  std::set<std::string> dropped_tenants_;

  std::mutex write_mu_;  // held while a batch is written
  std::map<std::string, int64_t> last_prune_;  // GUARDED_BY(write_mu_)

  std::thread writer_;  // last: starts once everything above exists
};

}  // namespace

std::unique_ptr<RecommendationLog> NewQueuedRecommendationLog(std::unique_ptr<RecommendationRows> rows,
                                                              const Clock* clock, RecommendationLogOptions options) {
  return std::make_unique<QueuedRecommendationLog>(std::move(rows), clock, options);
}

}  // namespace embedrec::store
