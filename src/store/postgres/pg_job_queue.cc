// The job queue in PostgreSQL (store/job_queue.h): one row per queued job in
// its own schema; a claim takes the oldest claimable row with FOR UPDATE SKIP
// LOCKED, so nodes claiming at once never wait for, nor take, the same job.
// One job per tenant is a unique index, so two nodes' submissions cannot both
// queue one.
#include "store/job_queue.h"
#include "store/postgres/pg_db.h"

namespace embedrec::store {
namespace {

const std::vector<PgMigration>& JobQueueMigrations() {
  static const std::vector<PgMigration> kMigrations = {
      {1, R"sql(
CREATE TABLE queued_jobs (
  job_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL UNIQUE,
  enqueued_at_ms BIGINT NOT NULL,
  holder TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX queued_jobs_order ON queued_jobs (enqueued_at_ms, job_id);
)sql"},
  };
  return kMigrations;
}

constexpr const char* kCols =
    "job_id, tenant_id, enqueued_at_ms, holder, lease_until_ms, attempts, cancel_requested";

QueuedJob Read(const PgRows& r, int i) {
  return {r.Text(i, 0), r.Text(i, 1), r.Int(i, 2), r.Text(i, 3), r.Int(i, 4), static_cast<int>(r.Int(i, 5)),
          r.Bool(i, 6)};
}

std::optional<QueuedJob> First(const PgRows& r) {
  return r.size() ? std::optional<QueuedJob>(Read(r, 0)) : std::nullopt;
}

class PgJobQueue final : public JobQueue {
 public:
  explicit PgJobQueue(std::unique_ptr<PgDb> db) : db_(std::move(db)) {}

  Status Enqueue(const std::string& tenant_id, const std::string& job_id, const std::string& holder, int64_t now_ms,
                 int64_t lease_ms) override {
    const bool held = !holder.empty();
    return db_->Exec("INSERT INTO queued_jobs (" + std::string(kCols) + ") VALUES ($1, $2, $3, $4, $5, $6, FALSE)",
                     {job_id, tenant_id, std::to_string(now_ms), holder, std::to_string(held ? now_ms + lease_ms : 0),
                      held ? "1" : "0"})
        .status();
  }

  StatusOr<std::optional<QueuedJob>> Claim(const std::string& node, int64_t now_ms, int64_t lease_ms) override {
    ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE queued_jobs SET holder = $1, lease_until_ms = $2, "
                                       "attempts = attempts + 1 WHERE job_id = ("
                                       "SELECT job_id FROM queued_jobs WHERE holder = '' OR lease_until_ms < $3 "
                                       "ORDER BY enqueued_at_ms, job_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                                       "RETURNING " + std::string(kCols),
                                       {node, std::to_string(now_ms + lease_ms), std::to_string(now_ms)}));
    return First(r);
  }

  StatusOr<std::vector<QueuedJob>> Renew(const std::string& node, int64_t now_ms, int64_t lease_ms) override {
    ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE queued_jobs SET lease_until_ms = $2 WHERE holder = $1 RETURNING " +
                                           std::string(kCols),
                                       {node, std::to_string(now_ms + lease_ms)}));
    std::vector<QueuedJob> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(Read(r, i));
    return out;
  }

  Status Release(const std::string& job_id, const std::string& node) override {
    ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE queued_jobs SET holder = '', lease_until_ms = 0 "
                                       "WHERE job_id = $1 AND holder = $2",
                                       {job_id, node}));
    if (r.changed() == 0) return Status::NotFound("job " + job_id + " is not held");
    return Status::Ok();
  }

  Status Remove(const std::string& job_id, const std::string& node) override {
    return db_->Exec("DELETE FROM queued_jobs WHERE job_id = $1 AND holder = $2", {job_id, node}).status();
  }

  StatusOr<CancelOutcome> RequestCancel(const std::string& job_id) override {
    ASSIGN_OR_RETURN(auto removed, db_->Exec("DELETE FROM queued_jobs WHERE job_id = $1 AND holder = ''", {job_id}));
    if (removed.changed() > 0) return CancelOutcome::kRemoved;
    ASSIGN_OR_RETURN(auto flagged,
                     db_->Exec("UPDATE queued_jobs SET cancel_requested = TRUE WHERE job_id = $1", {job_id}));
    return flagged.changed() > 0 ? CancelOutcome::kFlagged : CancelOutcome::kAbsent;
  }

  StatusOr<std::optional<QueuedJob>> Get(const std::string& job_id) override {
    ASSIGN_OR_RETURN(auto r, db_->Exec("SELECT " + std::string(kCols) + " FROM queued_jobs WHERE job_id = $1", {job_id}));
    return First(r);
  }

  StatusOr<std::optional<QueuedJob>> OfTenant(const std::string& tenant_id) override {
    ASSIGN_OR_RETURN(auto r,
                     db_->Exec("SELECT " + std::string(kCols) + " FROM queued_jobs WHERE tenant_id = $1", {tenant_id}));
    return First(r);
  }

  StatusOr<int> WaitingAhead(const std::string& job_id) override {
    ASSIGN_OR_RETURN(auto r, db_->Exec("SELECT count(*) FROM queued_jobs w, queued_jobs me WHERE me.job_id = $1 AND "
                                       "w.holder = '' AND (w.enqueued_at_ms, w.job_id) < (me.enqueued_at_ms, me.job_id)",
                                       {job_id}));
    return r.size() ? static_cast<int>(r.Int(0, 0)) : 0;
  }

 private:
  std::unique_ptr<PgDb> db_;
};

}  // namespace

StatusOr<std::unique_ptr<JobQueue>> OpenPostgresJobQueue(const std::string& url, const std::string& schema) {
  ASSIGN_OR_RETURN(auto db, PgDb::Open({.url = url, .schema = schema, .pool_size = 2}, JobQueueMigrations()));
  return std::unique_ptr<JobQueue>(new PgJobQueue(std::move(db)));
}

}  // namespace embedrec::store
