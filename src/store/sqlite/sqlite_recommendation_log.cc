// The embedded recommendation log: one SQLite database per tenant
// (`root`/<tenant>/recommendations.db), behind the log's queue
// (store/recommendation_rows.h).
#include <algorithm>

#include "store/recommendation_rows.h"
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
    // Attribution reads a user's recent answers for every tracked view: from
    // an index that holds what it reads, the user's entries side by side
    // (the rows themselves lie in time order, one page each: ~20 random
    // page reads per event, which fell behind a busy shop's tracking).
    {4, R"sql(
CREATE INDEX recommendations_by_user_shown
  ON recommendations(user_id, ts_ms, id, endpoint, model_version, experiment_id, arm, items) WHERE user_id <> '';
DROP INDEX recommendations_by_user;
)sql"},
};


constexpr const char* kColumns =
    "id, ts_ms, user_id, endpoint, model_version, algorithm, items, context, cached, experiment_id, arm";
// kColumns as the by-user index holds them (a query naming only these is
// answered from the index alone): algorithm, context and cached left unset.
constexpr const char* kShownColumns =
    "id, ts_ms, user_id, endpoint, model_version, '', items, '', 0, experiment_id, arm";

RecommendationRecord RowToRecord(const std::string& tenant_id, SqliteStmt& s) {
  RecommendationRecord r;
  r.tenant_id = tenant_id;
  r.id = s.Text(0);
  r.ts_ms = s.Int(1);
  r.user_id = s.Text(2);
  r.endpoint = s.Text(3);
  r.model_version = s.Text(4);
  r.algorithm = s.Text(5);
  r.items = DecodeShownItems(s.Text(6));
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

class SqliteRecommendationRows final : public RecommendationRows {
 public:
  explicit SqliteRecommendationRows(std::string root) : dbs_(std::move(root), "recommendations.db", &kLogMigrations) {}

  Status Write(const std::string& tenant_id, const std::vector<const RecommendationRecord*>& records,
               int64_t prune_before_ms) override {
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/true));
    if (!db) return Status::NotFound("tenant " + tenant_id + " has no space");
    return db->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto ins, c.Prepare(std::string("INSERT OR IGNORE INTO recommendations (") + kColumns +
                                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      for (const RecommendationRecord* r : records) {
        ins->Bind(1, r->id).Bind(2, r->ts_ms).Bind(3, r->user_id).Bind(4, r->endpoint);
        ins->Bind(5, r->model_version).Bind(6, r->algorithm).Bind(7, EncodeShownItems(r->items));
        ins->Bind(8, r->context_json.empty() ? std::string_view("{}") : std::string_view(r->context_json));
        ins->Bind(9, int64_t{r->cached ? 1 : 0});
        ins->Bind(10, r->experiment_id).Bind(11, r->arm);
        RETURN_IF_ERROR(ins->Run());
        ins->Reset();
      }
      if (prune_before_ms <= 0) return Status::Ok();
      ASSIGN_OR_RETURN(auto del, c.Prepare("DELETE FROM recommendations WHERE ts_ms < ?"));
      del->Bind(1, prune_before_ms);
      RETURN_IF_ERROR(del->Run());
      // Statistics (sampled: a few milliseconds) so that the users answered
      // since a time (UsersSince) are found by a skip-scan of the by-user index,
      // user by user, not by reading every retained answer's entry.
      RETURN_IF_ERROR(c.Exec("PRAGMA analysis_limit=1000"));
      return c.Exec("ANALYZE recommendations");
    });
  }

  StatusOr<std::optional<RecommendationRecord>> Find(const std::string& tenant_id,
                                                     const std::string& id) override {
    std::optional<RecommendationRecord> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
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

  StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id,
                                                   const RecommendationLog::Range& range) override {
    std::vector<RecommendationRecord> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
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
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare(std::string("SELECT ") + kShownColumns +
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
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
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

  void Close(const std::string& tenant_id) override { dbs_.Close(tenant_id); }

 private:
  TenantDbSet dbs_;
};

}  // namespace

std::unique_ptr<RecommendationLog> NewSqliteRecommendationLog(const std::string& root, const Clock* clock,
                                                              RecommendationLogOptions options) {
  return NewQueuedRecommendationLog(std::make_unique<SqliteRecommendationRows>(root), clock, options);
}

}  // namespace embedrec::store
