#include "store/postgres/pg_training_records.h"

#include <cstdio>

namespace embedrec::store {

namespace {


JobRecord JobFrom(const PgRows& r, int i) {
  // A status this build does not know (a newer one wrote it) reads as failed.
  return {r.Text(i, 0), ParseJobStatus(r.Text(i, 1)).value_or(JobStatus::kFailed), r.Text(i, 2), r.Text(i, 3),
          r.Text(i, 4), r.Text(i, 5), r.Int(i, 6), r.Int(i, 7)};
}

ModelVersionRecord VersionFrom(const PgRows& r, int i) {
  ModelVersionRecord v;
  v.version = r.Text(i, 0);
  v.major = static_cast<int>(r.Int(i, 1));
  v.minor = static_cast<int>(r.Int(i, 2));
  v.model_type = r.Text(i, 3);
  v.status = ParseVersionStatus(r.Text(i, 4)).value_or(VersionStatus::kArchived);
  v.reason = r.Text(i, 5);
  v.job_id = r.Text(i, 6);
  v.created_at_ms = r.Int(i, 7);
  v.deployed_at_ms = r.Int(i, 8);
  v.size_bytes = r.Int(i, 9);
  v.model_key = r.Text(i, 10);
  v.index_key = r.Text(i, 11);
  v.metrics_json = r.Text(i, 12);
  v.params_json = r.Text(i, 13);
  v.index_json = r.Text(i, 14);
  v.traffic_weight = r.Double(i, 15);
  return v;
}

// "status IN ($2,$3…)" for `n` statuses from parameter `first`; "" for none.
std::string StatusFilter(size_t n, int first) {
  if (n == 0) return "";
  std::string sql = " WHERE status IN (";
  for (size_t i = 0; i < n; ++i) sql += (i ? ",$" : "$") + std::to_string(first + static_cast<int>(i));
  return sql + ")";
}

class PgTrainingRecords final : public TrainingRecords {
 public:
  explicit PgTrainingRecords(PgTenantSpace space) : t_(std::move(space)) {}

  Status PutJob(const JobRecord& j) override {
    return Exec(std::string("INSERT INTO {s}.training_jobs (") + kJobColumns +
                    ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (job_id) DO UPDATE SET status=excluded.status, "
                    "model_type=excluded.model_type, mode=excluded.mode, request_json=excluded.request_json, "
                    "state_json=excluded.state_json, created_at_ms=excluded.created_at_ms, "
                    "updated_at_ms=excluded.updated_at_ms",
                {j.job_id, std::string(JobStatusName(j.status)), j.model_type, j.mode, j.request_json, j.state_json,
                 std::to_string(j.created_at_ms), std::to_string(j.updated_at_ms)})
        .status();
  }

  StatusOr<JobRecord> GetJob(const std::string& job_id) override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kJobColumns + " FROM {s}.training_jobs WHERE job_id=$1",
                                  {job_id}));
    if (r.size() == 0) return Status::NotFound("training job '" + job_id + "' does not exist");
    return JobFrom(r, 0);
  }

  StatusOr<std::vector<JobRecord>> ListJobs(const std::vector<JobStatus>& statuses, int limit) override {
    std::vector<PgParam> params{std::to_string(limit)};
    for (JobStatus s : statuses) params.emplace_back(std::string(JobStatusName(s)));
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kJobColumns + " FROM {s}.training_jobs" +
                                      StatusFilter(statuses.size(), 2) +
                                      " ORDER BY created_at_ms DESC, job_id DESC LIMIT $1",
                                  params));
    std::vector<JobRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(JobFrom(r, i));
    return out;
  }

  Status PutVersion(const ModelVersionRecord& v) override {
    return Exec(std::string("INSERT INTO {s}.model_versions (") + kVersionColumns +
                    ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT (version) DO UPDATE "
                    "SET major=excluded.major, minor=excluded.minor, model_type=excluded.model_type, "
                    "status=excluded.status, reason=excluded.reason, job_id=excluded.job_id, "
                    "created_at_ms=excluded.created_at_ms, deployed_at_ms=excluded.deployed_at_ms, "
                    "size_bytes=excluded.size_bytes, model_key=excluded.model_key, index_key=excluded.index_key, "
                    "metrics_json=excluded.metrics_json, params_json=excluded.params_json, "
                    "index_json=excluded.index_json, traffic_weight=excluded.traffic_weight",
                {v.version, std::to_string(v.major), std::to_string(v.minor), v.model_type,
                 std::string(VersionStatusName(v.status)), v.reason, v.job_id, std::to_string(v.created_at_ms),
                 std::to_string(v.deployed_at_ms), std::to_string(v.size_bytes), v.model_key, v.index_key,
                 v.metrics_json, v.params_json, v.index_json, PgDouble(v.traffic_weight)})
        .status();
  }

  StatusOr<std::vector<ModelVersionRecord>> ListVersions() override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kVersionColumns +
                                  " FROM {s}.model_versions ORDER BY major DESC, minor DESC, created_at_ms DESC"));
    std::vector<ModelVersionRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(VersionFrom(r, i));
    return out;
  }

  Status DeleteVersion(const std::string& version) override {
    return t_.db->Transaction([&](PgConn& c) -> Status {
      ASSIGN_OR_RETURN(auto r, c.Exec(t_.Sql("SELECT status, traffic_weight FROM {s}.model_versions "
                                             "WHERE version=$1 FOR UPDATE"),
                                      {version}));
      if (r.size() == 0) return Status::NotFound("model version '" + version + "' does not exist");
      if (r.Text(0, 0) == "deployed") {
        return Status::FailedPrecondition("model version '" + version + "' is deployed; deploy another version first");
      }
      if (r.Double(0, 1) > 0) {
        return Status::FailedPrecondition("model version '" + version +
                                          "' serves part of the traffic; take it out of the split first");
      }
      return c.Exec(t_.Sql("DELETE FROM {s}.model_versions WHERE version=$1"), {version}).status();
    });
  }

  Status Deploy(const std::string& version, const std::string& reason, const std::string& event_topic,
                const std::string& event_json, int64_t now_ms) override {
    return t_.db->Transaction([&](PgConn& c) -> Status {
      RETURN_IF_ERROR(t_.LockWrites(c));
      RETURN_IF_ERROR(StatusOf(c, version).status());
      RETURN_IF_ERROR(c.Exec(t_.Sql("UPDATE {s}.model_versions SET status='archived' WHERE status='deployed' AND "
                                    "version<>$1"),
                             {version}).status());
      RETURN_IF_ERROR(c.Exec(t_.Sql("UPDATE {s}.model_versions SET traffic_weight=0 WHERE traffic_weight<>0")).status());
      RETURN_IF_ERROR(c.Exec(t_.Sql("UPDATE {s}.model_versions SET status='deployed', reason=$1, deployed_at_ms=$2, "
                                    "traffic_weight=1 WHERE version=$3"),
                             {reason, std::to_string(now_ms), version}).status());
      RETURN_IF_ERROR(t_.Notify(c, RemoteChange::kModels));
      return t_.AppendEvent(c, event_topic, event_json, now_ms);
    });
  }

  Status SetTraffic(const std::vector<std::pair<std::string, double>>& weights, const std::string& event_topic,
                    const std::string& event_json, int64_t now_ms) override {
    return t_.db->Transaction([&](PgConn& c) -> Status {
      RETURN_IF_ERROR(t_.LockWrites(c));
      bool has_deployed = false;
      for (const auto& [version, weight] : weights) {
        ASSIGN_OR_RETURN(std::string status, StatusOf(c, version));
        has_deployed |= status == "deployed";
        if (!(weight > 0)) return Status::InvalidArgument("the weight of " + version + " is not > 0");
      }
      if (!has_deployed) return Status::FailedPrecondition("the deployed version must be in the split");
      RETURN_IF_ERROR(c.Exec(t_.Sql("UPDATE {s}.model_versions SET traffic_weight=0 WHERE traffic_weight<>0")).status());
      for (const auto& [version, weight] : weights) {
        RETURN_IF_ERROR(c.Exec(t_.Sql("UPDATE {s}.model_versions SET traffic_weight=$1 WHERE version=$2"),
                               {PgDouble(weight), version}).status());
      }
      RETURN_IF_ERROR(t_.Notify(c, RemoteChange::kModels));
      return t_.AppendEvent(c, event_topic, event_json, now_ms);
    });
  }

 private:
  StatusOr<std::string> StatusOf(PgConn& c, const std::string& version) {
    ASSIGN_OR_RETURN(auto r, c.Exec(t_.Sql("SELECT status FROM {s}.model_versions WHERE version=$1"), {version}));
    if (r.size() == 0) return Status::NotFound("model version '" + version + "' does not exist");
    return r.Text(0, 0);
  }
  StatusOr<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {}) {
    return t_.db->Exec(t_.Sql(sql), params);
  }

  PgTenantSpace t_;
};

class PgExperimentRecords final : public ExperimentRecords {
 public:
  explicit PgExperimentRecords(PgTenantSpace space) : t_(std::move(space)) {}

  Status PutExperiment(const ExperimentRecord& e) override {
    return Exec("INSERT INTO {s}.experiments (experiment_id, status, created_at_ms, updated_at_ms, doc_json) "
                "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (experiment_id) DO UPDATE SET status=excluded.status, "
                "created_at_ms=excluded.created_at_ms, updated_at_ms=excluded.updated_at_ms, doc_json=excluded.doc_json",
                {e.experiment_id, e.status, std::to_string(e.created_at_ms), std::to_string(e.updated_at_ms),
                 e.doc_json})
        .status();
  }

  StatusOr<ExperimentRecord> GetExperiment(const std::string& experiment_id) override {
    ASSIGN_OR_RETURN(auto r, Exec("SELECT experiment_id, status, created_at_ms, updated_at_ms, doc_json "
                                  "FROM {s}.experiments WHERE experiment_id=$1",
                                  {experiment_id}));
    if (r.size() == 0) return Status::NotFound("experiment '" + experiment_id + "' does not exist");
    return ExperimentRecord{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2), r.Int(0, 3), r.Text(0, 4)};
  }

  StatusOr<std::vector<ExperimentRecord>> ListExperiments(const std::vector<std::string>& statuses,
                                                          int limit) override {
    std::vector<PgParam> params{std::to_string(limit)};
    for (const auto& s : statuses) params.emplace_back(s);
    ASSIGN_OR_RETURN(auto r, Exec("SELECT experiment_id, status, created_at_ms, updated_at_ms, doc_json "
                                  "FROM {s}.experiments" + StatusFilter(statuses.size(), 2) +
                                      " ORDER BY created_at_ms DESC, experiment_id DESC LIMIT $1",
                                  params));
    std::vector<ExperimentRecord> out;
    for (int i = 0; i < r.size(); ++i) {
      out.push_back({r.Text(i, 0), r.Text(i, 1), r.Int(i, 2), r.Int(i, 3), r.Text(i, 4)});
    }
    return out;
  }

 private:
  StatusOr<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {}) {
    return t_.db->Exec(t_.Sql(sql), params);
  }

  PgTenantSpace t_;
};

}  // namespace

std::unique_ptr<TrainingRecords> NewPgTrainingRecords(PgTenantSpace space) {
  return std::make_unique<PgTrainingRecords>(std::move(space));
}
std::unique_ptr<ExperimentRecords> NewPgExperimentRecords(PgTenantSpace space) {
  return std::make_unique<PgExperimentRecords>(std::move(space));
}

}  // namespace embedrec::store
