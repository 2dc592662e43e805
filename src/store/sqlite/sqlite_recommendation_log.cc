// The embedded recommendation log: one SQLite database per tenant
// (`root`/<tenant>/recommendations.db), written by one background thread in
// a transaction per tenant per batch, so the answer path only queues.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/json_text.h"
#include "common/thread_priority.h"
#include "store/recommendation_log.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/tenant_db_set.h"

namespace embedrec::store {
namespace {
const std::vector<Migration> kLogMigrations = {
    {1, R"sql(
CREATE TABLE recommendations (
  id TEXT PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  model_version TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  items TEXT NOT NULL,       -- [["item_id", score], ...] in the order shown
  context TEXT NOT NULL,
  cached INTEGER NOT NULL
);
CREATE INDEX recommendations_ts ON recommendations(ts_ms, id);
)sql"},
    // Attribution looks up a user's recent answers.
    {2, R"sql(
CREATE INDEX recommendations_by_user ON recommendations(user_id, ts_ms) WHERE user_id <> '';
)sql"},
    // The experiment arm an answer came from (experiments/experiments.h).
    {3, R"sql(
ALTER TABLE recommendations ADD COLUMN experiment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE recommendations ADD COLUMN arm TEXT NOT NULL DEFAULT '';
)sql"},
};


constexpr const char* kColumns =
    "id, ts_ms, user_id, endpoint, model_version, algorithm, items, context, cached, experiment_id, arm";

std::string EncodeItems(const std::vector<ShownItem>& items) {
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

std::vector<ShownItem> DecodeItems(const std::string& text) {
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

RecommendationRecord RowToRecord(const std::string& tenant_id, SqliteStmt& s) {
  RecommendationRecord r;
  r.tenant_id = tenant_id;
  r.id = s.Text(0);
  r.ts_ms = s.Int(1);
  r.user_id = s.Text(2);
  r.endpoint = s.Text(3);
  r.model_version = s.Text(4);
  r.algorithm = s.Text(5);
  r.items = DecodeItems(s.Text(6));
  r.context_json = s.Text(7);
  r.cached = s.Int(8) != 0;
  r.experiment_id = s.Text(9);
  r.arm = s.Text(10);
  return r;
}

// Every row the statement yields, as records.
Status AppendRows(const std::string& tenant_id, SqliteStmt& s, std::vector<RecommendationRecord>* out) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Status::Ok();
    out->push_back(RowToRecord(tenant_id, s));
  }
}

class SqliteRecommendationLog final : public RecommendationLog {
 public:
  SqliteRecommendationLog(std::string root, const Clock* clock, RecommendationLogOptions options)
      : clock_(clock),
        options_(options),
        dbs_(std::move(root), "recommendations.db", &kLogMigrations),
        writer_([this] { WriteLoop(); }) {}

  ~SqliteRecommendationLog() override {
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
    ASSIGN_OR_RETURN(auto db, Db(tenant_id, /*create=*/false));
    std::optional<RecommendationRecord> out;
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(std::string("SELECT ") + kColumns + " FROM recommendations WHERE id = ?"));
      s->Bind(1, id);
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) out = RowToRecord(tenant_id, *s);
      return Status::Ok();
    }));
    return out;
  }

  StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id, const Range& range) override {
    RETURN_IF_ERROR(Flush());
    std::vector<RecommendationRecord> out;
    ASSIGN_OR_RETURN(auto db, Db(tenant_id, /*create=*/false));
    if (!db || range.limit <= 0) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(std::string("SELECT ") + kColumns +
                                         " FROM recommendations WHERE ts_ms >= ? AND ts_ms < ? AND "
                                         "(ts_ms, id) > (?, ?) ORDER BY ts_ms, id LIMIT ?"));
      s->Bind(1, range.from_ms).Bind(2, range.to_ms);
      if (range.after_id.empty()) s->Bind(3, INT64_MIN).Bind(4, std::string_view());
      else s->Bind(3, range.after_ts_ms).Bind(4, range.after_id);
      s->Bind(5, static_cast<int64_t>(range.limit));
      return AppendRows(tenant_id, *s, &out);
    }));
    return out;
  }

  StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id, const std::string& user_id,
                                                       int64_t from_ms, int64_t to_ms, int limit) override {
    std::vector<RecommendationRecord> out;
    ASSIGN_OR_RETURN(auto db, Db(tenant_id, /*create=*/false));
    if (!db || limit <= 0 || user_id.empty()) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(std::string("SELECT ") + kColumns +
                                         " FROM recommendations WHERE user_id = ? AND user_id <> '' AND "
                                         "ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms DESC, id DESC LIMIT ?"));
      s->Bind(1, user_id).Bind(2, from_ms).Bind(3, to_ms).Bind(4, static_cast<int64_t>(limit));
      return AppendRows(tenant_id, *s, &out);
    }));
    return out;
  }

  StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                size_t limit) override {
    std::vector<std::string> out;
    ASSIGN_OR_RETURN(auto db, Db(tenant_id, /*create=*/false));
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(
          "SELECT DISTINCT user_id FROM recommendations WHERE ts_ms >= ? AND user_id <> '' LIMIT ?"));
      s->Bind(1, from_ms).Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) return Status::Ok();
        out.push_back(s->Text(0));
      }
    }));
    return out;
  }

  Status DropTenant(const std::string& tenant_id) override {
    {
      std::lock_guard lock(mu_);
      dropped_tenants_.insert(tenant_id);
      settled_ += std::erase_if(queue_, [&](const RecommendationRecord& r) { return r.tenant_id == tenant_id; });
    }
    done_cv_.notify_all();
    std::lock_guard write(write_mu_);  // a batch being written has finished
    dbs_.Close(tenant_id);
    last_prune_.erase(tenant_id);
    return Status::Ok();
  }

  void CloseTenant(const std::string& tenant_id) override {
    std::lock_guard write(write_mu_);  // not while a batch is being written
    dbs_.Close(tenant_id);
  }

  uint64_t dropped() const override {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  static constexpr size_t kBatch = 500;

  StatusOr<std::shared_ptr<SqliteDb>> Db(const std::string& tenant_id, bool create) {
    return dbs_.Get(tenant_id, create);
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
      auto db = Db(tenant_id, /*create=*/true);
      if (!db.ok() || !*db) {
        if (!db.ok()) spdlog::warn("recommendation log of tenant {}: {}", tenant_id, db.status().ToString());
        lost += records.size();
        continue;
      }
      Status s = (*db)->Write([&](SqliteConn& c) -> Status {
        ASSIGN_OR_RETURN(auto ins, c.Prepare(std::string("INSERT OR IGNORE INTO recommendations (") + kColumns +
                                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        for (const RecommendationRecord* r : records) {
          ins->Bind(1, r->id).Bind(2, r->ts_ms).Bind(3, r->user_id).Bind(4, r->endpoint);
          ins->Bind(5, r->model_version).Bind(6, r->algorithm).Bind(7, EncodeItems(r->items));
          ins->Bind(8, r->context_json.empty() ? std::string_view("{}") : std::string_view(r->context_json));
          ins->Bind(9, int64_t{r->cached ? 1 : 0});
          ins->Bind(10, r->experiment_id).Bind(11, r->arm);
          RETURN_IF_ERROR(ins->Run());
          ins->Reset();
        }
        int64_t& last = last_prune_[tenant_id];  // only this thread touches it, under write_mu_
        if (now - last > kPruneEveryMs) {
          last = now;
          ASSIGN_OR_RETURN(auto del, c.Prepare("DELETE FROM recommendations WHERE ts_ms < ?"));
          del->Bind(1, now - options_.retention_days * 86'400'000);
          RETURN_IF_ERROR(del->Run());
          // Statistics (sampled: a few milliseconds) so that the users answered
          // since a time (UsersSince) are found by a skip-scan of the by-user index,
          // user by user, not by reading every retained answer's entry.
          RETURN_IF_ERROR(c.Exec("PRAGMA analysis_limit=1000"));
          RETURN_IF_ERROR(c.Exec("ANALYZE recommendations"));
        }
        return Status::Ok();
      });
      if (!s.ok()) {
        spdlog::warn("recommendation log of tenant {}: {} records lost: {}", tenant_id, records.size(),
                     s.ToString());
        lost += records.size();
      }
    }
    return lost;
  }

  static constexpr int64_t kPruneEveryMs = 3'600'000;
  const Clock* clock_;
  const RecommendationLogOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<RecommendationRecord> queue_;  // GUARDED_BY(mu_)
  uint64_t appended_ = 0, settled_ = 0, dropped_ = 0;
  bool stop_ = false, flush_wanted_ = false;
  std::set<std::string> dropped_tenants_;

  std::mutex write_mu_;  // held while a batch is written
  std::map<std::string, int64_t> last_prune_;  // GUARDED_BY(write_mu_)
  TenantDbSet dbs_;

  std::thread writer_;  // last: starts once everything above exists
};

}  // namespace

std::unique_ptr<RecommendationLog> NewSqliteRecommendationLog(const std::string& root, const Clock* clock,
                                                              RecommendationLogOptions options) {
  return std::make_unique<SqliteRecommendationLog>(root, clock, options);
}

}  // namespace embedrec::store
