#include "store/sqlite/sqlite_training_records.h"

#include "store/sqlite/sqlite_tenant_schema.h"

namespace embedrec::store {
namespace {

JobRecord JobFrom(const SqliteStmt& st) {
  // A status this build does not know (a newer one wrote it) reads as failed.
  return {st.Text(0), ParseJobStatus(st.Text(1)).value_or(JobStatus::kFailed), st.Text(2), st.Text(3),
          st.Text(4), st.Text(5), st.Int(6), st.Int(7)};
}

ModelVersionRecord VersionFrom(const SqliteStmt& st) {
  ModelVersionRecord v;
  v.version = st.Text(0);
  v.major = static_cast<int>(st.Int(1));
  v.minor = static_cast<int>(st.Int(2));
  v.model_type = st.Text(3);
  v.status = ParseVersionStatus(st.Text(4)).value_or(VersionStatus::kArchived);
  v.reason = st.Text(5);
  v.job_id = st.Text(6);
  v.created_at_ms = st.Int(7);
  v.deployed_at_ms = st.Int(8);
  v.size_bytes = st.Int(9);
  v.model_key = st.Text(10);
  v.index_key = st.Text(11);
  v.metrics_json = st.Text(12);
  v.params_json = st.Text(13);
  v.index_json = st.Text(14);
  v.traffic_weight = st.Double(15);
  return v;
}

Status BindVersion(SqliteStmt& st, const ModelVersionRecord& v) {
  st.Bind(1, v.version).Bind(2, int64_t{v.major}).Bind(3, int64_t{v.minor}).Bind(4, v.model_type)
      .Bind(5, VersionStatusName(v.status)).Bind(6, v.reason).Bind(7, v.job_id).Bind(8, v.created_at_ms)
      .Bind(9, v.deployed_at_ms).Bind(10, v.size_bytes).Bind(11, v.model_key)
      .Bind(12, v.index_key).Bind(13, v.metrics_json).Bind(14, v.params_json)
      .Bind(15, v.index_json).Bind(16, v.traffic_weight);
  return st.Run();
}

class SqliteTrainingRecords final : public TrainingRecords {
 public:
  explicit SqliteTrainingRecords(SqliteDb* db) : db_(db) {}

  Status PutJob(const JobRecord& j) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("INSERT OR REPLACE INTO training_jobs (") +
                                          kJobColumns + ") VALUES (?,?,?,?,?,?,?,?)"));
      st->Bind(1, j.job_id).Bind(2, JobStatusName(j.status)).Bind(3, j.model_type).Bind(4, j.mode)
          .Bind(5, j.request_json).Bind(6, j.state_json).Bind(7, j.created_at_ms)
          .Bind(8, j.updated_at_ms);
      return st->Run();
    });
  }

  StatusOr<JobRecord> GetJob(const std::string& job_id) override {
    std::optional<JobRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kJobColumns +
                                          " FROM training_jobs WHERE job_id=?"));
      st->Bind(1, job_id);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = JobFrom(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("training job '" + job_id + "' does not exist");
    return *out;
  }

  StatusOr<std::vector<JobRecord>> ListJobs(const std::vector<JobStatus>& statuses,
                                            int limit) override {
    std::vector<JobRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      std::string sql = std::string("SELECT ") + kJobColumns + " FROM training_jobs";
      if (!statuses.empty()) {
        sql += " WHERE status IN (";
        for (size_t i = 0; i < statuses.size(); ++i) sql += i ? ",?" : "?";
        sql += ")";
      }
      sql += " ORDER BY created_at_ms DESC, job_id DESC LIMIT ?";
      ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
      int i = 1;
      for (JobStatus s : statuses) st->Bind(i++, JobStatusName(s));
      st->Bind(i, int64_t{limit});
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(JobFrom(*st));
      }
    }));
    return out;
  }

  Status PutVersion(const ModelVersionRecord& v) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("INSERT OR REPLACE INTO model_versions (") +
                                          kVersionColumns +
                                          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
      return BindVersion(*st, v);
    });
  }

  StatusOr<std::vector<ModelVersionRecord>> ListVersions() override {
    std::vector<ModelVersionRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kVersionColumns +
                                          " FROM model_versions ORDER BY major DESC, minor DESC, "
                                          "created_at_ms DESC"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(VersionFrom(*st));
      }
    }));
    return out;
  }

  Status DeleteVersion(const std::string& version) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(std::string status, StatusOf(c, version));
      if (status == "deployed") {
        return Status::FailedPrecondition("model version '" + version +
                                          "' is deployed; deploy another version first");
      }
      ASSIGN_OR_RETURN(auto w, c.Prepare("SELECT traffic_weight FROM model_versions WHERE version=?"));
      w->Bind(1, version);
      ASSIGN_OR_RETURN(bool row, w->Step());
      if (row && w->Double(0) > 0) {
        return Status::FailedPrecondition("model version '" + version +
                                          "' serves part of the traffic; take it out of the split first");
      }
      ASSIGN_OR_RETURN(auto st, c.Prepare("DELETE FROM model_versions WHERE version=?"));
      st->Bind(1, version);
      return st->Run();
    });
  }

  Status Deploy(const std::string& version, const std::string& reason,
                const std::string& event_topic, const std::string& event_json,
                int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      RETURN_IF_ERROR(StatusOf(c, version).status());
      ASSIGN_OR_RETURN(auto old, c.Prepare(
          "UPDATE model_versions SET status='archived' WHERE status='deployed' AND version<>?"));
      old->Bind(1, version);
      RETURN_IF_ERROR(old->Run());
      RETURN_IF_ERROR(c.Exec("UPDATE model_versions SET traffic_weight=0 WHERE traffic_weight<>0"));
      ASSIGN_OR_RETURN(auto st, c.Prepare(
          "UPDATE model_versions SET status='deployed', reason=?, deployed_at_ms=?, traffic_weight=1 "
          "WHERE version=?"));
      st->Bind(1, reason).Bind(2, now_ms).Bind(3, version);
      RETURN_IF_ERROR(st->Run());
      return AppendEventRow(c, event_topic, event_json, now_ms);
    });
  }

  Status SetTraffic(const std::vector<std::pair<std::string, double>>& weights,
                    const std::string& event_topic, const std::string& event_json,
                    int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) -> Status {
      bool has_deployed = false;
      for (const auto& [version, weight] : weights) {
        ASSIGN_OR_RETURN(std::string status, StatusOf(c, version));
        has_deployed |= status == "deployed";
        if (!(weight > 0)) return Status::InvalidArgument("the weight of " + version + " is not > 0");
      }
      if (!has_deployed) {
        return Status::FailedPrecondition("the deployed version must be in the split");
      }
      RETURN_IF_ERROR(c.Exec("UPDATE model_versions SET traffic_weight=0 WHERE traffic_weight<>0"));
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE model_versions SET traffic_weight=? WHERE version=?"));
      for (const auto& [version, weight] : weights) {
        st->Bind(1, weight).Bind(2, version);
        RETURN_IF_ERROR(st->Run());
        st->Reset();
      }
      return AppendEventRow(c, event_topic, event_json, now_ms);
    });
  }

 private:
  static StatusOr<std::string> StatusOf(SqliteConn& c, const std::string& version) {
    ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT status FROM model_versions WHERE version=?"));
    st->Bind(1, version);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return Status::NotFound("model version '" + version + "' does not exist");
    return st->Text(0);
  }

  SqliteDb* db_;
};

}  // namespace

std::unique_ptr<TrainingRecords> NewSqliteTrainingRecords(SqliteDb* db) {
  return std::make_unique<SqliteTrainingRecords>(db);
}

}  // namespace embedrec::store
