#include "store/sqlite/sqlite_experiment_records.h"

#include <optional>

namespace embedrec::store {
namespace {

constexpr const char* kColumns = "experiment_id, status, created_at_ms, updated_at_ms, doc_json";

ExperimentRecord From(const SqliteStmt& st) { return {st.Text(0), st.Text(1), st.Int(2), st.Int(3), st.Text(4)}; }

class SqliteExperimentRecords final : public ExperimentRecords {
 public:
  explicit SqliteExperimentRecords(SqliteDb* db) : db_(db) {}

  Status PutExperiment(const ExperimentRecord& e) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("INSERT OR REPLACE INTO experiments (") + kColumns +
                                          ") VALUES (?,?,?,?,?)"));
      st->Bind(1, e.experiment_id).Bind(2, e.status).Bind(3, e.created_at_ms).Bind(4, e.updated_at_ms);
      st->Bind(5, e.doc_json);
      return st->Run();
    });
  }

  StatusOr<ExperimentRecord> GetExperiment(const std::string& experiment_id) override {
    std::optional<ExperimentRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kColumns +
                                          " FROM experiments WHERE experiment_id=?"));
      st->Bind(1, experiment_id);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = From(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("experiment '" + experiment_id + "' does not exist");
    return *out;
  }

  StatusOr<std::vector<ExperimentRecord>> ListExperiments(const std::vector<std::string>& statuses,
                                                          int limit) override {
    std::vector<ExperimentRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      std::string sql = std::string("SELECT ") + kColumns + " FROM experiments";
      if (!statuses.empty()) {
        sql += " WHERE status IN (";
        for (size_t i = 0; i < statuses.size(); ++i) sql += i ? ",?" : "?";
        sql += ")";
      }
      sql += " ORDER BY created_at_ms DESC, experiment_id DESC LIMIT ?";
      ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
      int i = 1;
      for (const auto& s : statuses) st->Bind(i++, s);
      st->Bind(i, int64_t{limit});
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(From(*st));
      }
    }));
    return out;
  }

 private:
  SqliteDb* db_;
};

}  // namespace

std::unique_ptr<ExperimentRecords> NewSqliteExperimentRecords(SqliteDb* db) {
  return std::make_unique<SqliteExperimentRecords>(db);
}

}  // namespace embedrec::store
