// The embedded recommendation log: one SQLite database per tenant
// (`root`/<tenant>/recommendations.db), behind the log's queue
// (store/recommendation_rows.h). A user's recent answers are found through
// an index in memory (store/sqlite/recent_answers.h), filled as rows are
// written and, after a start or an idle close, from the table's last day.
#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "store/recommendation_rows.h"
#include "store/sqlite/recent_answers.h"
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
    // ... and then from memory (store/sqlite/recent_answers.h): the index's
    // random leaf page per answer, written to the WAL and again by its
    // checkpoint, was most of the log writer's cost (docs/benchmarks.md).
    // What memory lacks (and fills it) is read by time and user from an
    // index that grows at its end only, as the rows do.
    {5, R"sql(
DROP INDEX recommendations_by_user_shown;
CREATE INDEX recommendations_ts_user ON recommendations(ts_ms, user_id) WHERE user_id <> '';
)sql"},
};


constexpr const char* kColumns =
    "id, ts_ms, user_id, endpoint, model_version, algorithm, items, context, cached, experiment_id, arm";

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
  SqliteRecommendationRows(std::string root, const Clock* clock)
      : clock_(clock), dbs_(std::move(root), "recommendations.db", &kLogMigrations) {}

  Status Write(const std::string& tenant_id, const std::vector<const RecommendationRecord*>& records,
               int64_t prune_before_ms) override {
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/true));
    if (!db) return Status::NotFound("tenant " + tenant_id + " has no space");
    std::vector<Written> written;
    RETURN_IF_ERROR(db->Write([&](SqliteConn& c) -> Status {
      written.clear();
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
        if (!r->user_id.empty() && c.Changes() == 1) {
          written.push_back({r, static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()))});
        }
      }
      if (prune_before_ms <= 0) return Status::Ok();
      ASSIGN_OR_RETURN(auto del, c.Prepare("DELETE FROM recommendations WHERE ts_ms < ?"));
      del->Bind(1, prune_before_ms);
      return del->Run();
    }));
    Remember(tenant_id, written, prune_before_ms > 0);
    return Status::Ok();
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

  // The user's answers listed in memory, each row read by its id (the
  // table's newest pages: cached), and the part of the range memory may lack
  // read from the table by time.
  StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id, const std::string& user_id,
                                                       int64_t from_ms, int64_t to_ms, int limit) override {
    std::vector<RecommendationRecord> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db || limit <= 0) return out;
    ASSIGN_OR_RETURN(auto recent, Loaded(tenant_id, *db));
    std::vector<RecentAnswers::Entry> listed;
    int64_t missing_to;
    {
      std::lock_guard lock(recent->mu);
      listed = recent->index->Find(user_id, from_ms, to_ms, static_cast<size_t>(limit), &missing_to);
    }
    RETURN_IF_ERROR(db->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto row, c.Prepare(std::string("SELECT ") + kColumns + " FROM recommendations WHERE rowid = ?"));
      for (const RecentAnswers::Entry& e : listed) {
        row->Bind(1, e.rowid);
        ASSIGN_OR_RETURN(bool found, row->Step());
        // Gone (pruned), or the id of a row since deleted and reused.
        if (found && row->Int(1) == e.ts_ms && row->Text(2) == user_id) out.push_back(RowToRecord(tenant_id, *row));
        row->Reset();
      }
      if (missing_to <= from_ms) return Status::Ok();
      // By time alone, so that the (time, user) index is the one walked:
      // only the user's rows are read (ties ordered below).
      ASSIGN_OR_RETURN(auto s, c.Prepare(std::string("SELECT ") + kColumns +
                                         " FROM recommendations WHERE ts_ms >= ? AND ts_ms < ? AND user_id = ? AND "
                                         "user_id <> '' ORDER BY ts_ms DESC LIMIT ?"));
      s->Bind(1, from_ms).Bind(2, missing_to).Bind(3, user_id).Bind(4, static_cast<int64_t>(limit));
      return AppendRows(tenant_id, *s, &out);
    }));
    if (missing_to > from_ms) {
      std::unordered_set<std::string> seen;
      std::erase_if(out, [&](const RecommendationRecord& r) { return !seen.insert(r.id).second; });
      std::sort(out.begin(), out.end(), [](const RecommendationRecord& a, const RecommendationRecord& b) {
        return a.ts_ms != b.ts_ms ? a.ts_ms > b.ts_ms : a.id > b.id;
      });
      if (out.size() > static_cast<size_t>(limit)) out.resize(limit);
    }
    return out;
  }

  StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                size_t limit) override {
    std::vector<std::string> out;
    ASSIGN_OR_RETURN(auto db, dbs_.Get(tenant_id, /*create=*/false));
    if (!db) return out;
    ASSIGN_OR_RETURN(auto recent, Loaded(tenant_id, *db));
    {
      std::lock_guard lock(recent->mu);
      if (recent->index->UsersSince(from_ms, limit, &out)) return out;
    }
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

  int64_t resident_bytes() const override {
    std::vector<std::shared_ptr<Recent>> all;
    {
      std::lock_guard lock(recent_mu_);
      for (const auto& [tenant, r] : recent_) all.push_back(r);
    }
    int64_t b = 0;
    for (const auto& r : all) {
      std::lock_guard lock(r->mu);
      if (r->index) b += r->index->bytes();
    }
    return b;
  }

  int64_t resident_bytes(const std::string& tenant_id) const override {
    std::shared_ptr<Recent> r;
    {
      std::lock_guard lock(recent_mu_);
      auto it = recent_.find(tenant_id);
      if (it == recent_.end()) return 0;
      r = it->second;
    }
    std::lock_guard lock(r->mu);
    return r->index ? r->index->bytes() : 0;
  }

  void Close(const std::string& tenant_id) override {
    dbs_.Close(tenant_id);
    std::lock_guard lock(recent_mu_);
    recent_.erase(tenant_id);  // filled again from the table when next read
  }

 private:
  struct Written {
    const RecommendationRecord* record;
    int64_t rowid;
  };
  // A tenant's index in memory: empty until a reader needs it, then filled
  // from the table while the writer's new rows wait in `pending`.
  struct Recent {
    std::mutex load_mu;  // one filling at a time
    std::mutex mu;       // the fields below
    std::optional<RecentAnswers> index;  // set once filled
    bool filling = false;
    std::vector<std::pair<std::string, RecentAnswers::Entry>> pending;
    int64_t expired_ms = 0;
  };
  static constexpr int64_t kExpireEveryMs = 60'000;

  std::shared_ptr<Recent> RecentOf(const std::string& tenant_id, bool create) {
    std::lock_guard lock(recent_mu_);
    auto it = recent_.find(tenant_id);
    if (it != recent_.end()) return it->second;
    if (!create) return nullptr;
    return recent_[tenant_id] = std::make_shared<Recent>();
  }

  // Rows just written: into the tenant's index when it is in use (an empty
  // one reads them from the table when filled).
  void Remember(const std::string& tenant_id, const std::vector<Written>& written, bool pruned) {
    auto recent = RecentOf(tenant_id, /*create=*/false);
    if (!recent) return;
    std::lock_guard lock(recent->mu);
    if (recent->filling) {
      for (const Written& w : written) recent->pending.push_back({w.record->user_id, {w.record->ts_ms, w.rowid}});
    } else if (recent->index) {
      for (const Written& w : written) recent->index->Add(w.record->user_id, w.record->ts_ms, w.rowid);
      const int64_t now = clock_->NowMillis();
      if (pruned || now - recent->expired_ms >= kExpireEveryMs) {
        recent->expired_ms = now;
        recent->index->Expire(now);
      }
    }
  }

  // The tenant's index, filled from the table's last day (newest first, at
  // most the index's bound) when it is not yet.
  StatusOr<std::shared_ptr<Recent>> Loaded(const std::string& tenant_id, SqliteDb& db) {
    auto recent = RecentOf(tenant_id, /*create=*/true);
    std::lock_guard fill(recent->load_mu);
    {
      std::lock_guard lock(recent->mu);
      if (recent->index) return recent;
      recent->filling = true;  // from now on, rows written wait in `pending`
      recent->pending.clear();
    }
    const RecentAnswers::Options options;
    const int64_t now = clock_->NowMillis();
    int64_t covered_since = now - options.horizon_ms;
    std::vector<std::pair<std::string, RecentAnswers::Entry>> rows;
    Status read = db.Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT rowid, ts_ms, user_id FROM recommendations WHERE ts_ms >= ? AND "
                                         "user_id <> '' ORDER BY ts_ms DESC LIMIT ?"));
      s->Bind(1, covered_since).Bind(2, static_cast<int64_t>(options.max_entries));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) return Status::Ok();
        rows.push_back({s->Text(2), {s->Int(1), s->Int(0)}});
      }
    });
    std::lock_guard lock(recent->mu);
    if (!read.ok()) {
      recent->filling = false;
      recent->pending.clear();
      return read;
    }
    // Stopped at the bound: answers at the last time read may be missing.
    if (rows.size() >= options.max_entries) covered_since = rows.back().second.ts_ms + 1;
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.rowid < b.second.rowid; });
    int64_t last_rowid = rows.empty() ? INT64_MIN : rows.back().second.rowid;
    recent->index.emplace(covered_since, options);
    for (const auto& [user, e] : rows) recent->index->Add(user, e.ts_ms, e.rowid);
    // Written while the table was read: those it did not see yet (row ids grow).
    for (const auto& [user, e] : recent->pending) {
      if (e.rowid > last_rowid) recent->index->Add(user, e.ts_ms, e.rowid);
    }
    recent->pending.clear();
    recent->index->Expire(now);
    recent->expired_ms = now;
    recent->filling = false;
    return recent;
  }

  const Clock* clock_;
  TenantDbSet dbs_;
  mutable std::mutex recent_mu_;
  std::unordered_map<std::string, std::shared_ptr<Recent>> recent_;
};

}  // namespace

std::unique_ptr<RecommendationLog> NewSqliteRecommendationLog(const std::string& root, const Clock* clock,
                                                              RecommendationLogOptions options) {
  return NewQueuedRecommendationLog(std::make_unique<SqliteRecommendationRows>(root, clock), clock, options);
}

}  // namespace embedrec::store
