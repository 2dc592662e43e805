// A tenant's training jobs and model versions: the durable side of the
// training service (jobs survive restarts; versions are the model registry).
// Lives in the tenant's own database, beside its data.
//
// Thread safety: safe for concurrent use; methods block on I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include <utility>

#include "common/status.h"

namespace embedrec::store {

struct JobRecord {
  std::string job_id;
  std::string status;      // queued, loading_data, training, ..., completed, failed, cancelled
  std::string model_type;
  std::string mode;        // "full" | "incremental"
  std::string request_json = "{}";  // the validated request (hyperparameters, options)
  std::string state_json = "{}";    // the progress document last published
  int64_t created_at_ms = 0, updated_at_ms = 0;
};

struct ModelVersionRecord {
  std::string version;     // "v<major>.<minor>_<YYYYMMDD>"
  int major = 0, minor = 0;
  std::string model_type;
  std::string status;      // deployed | standby | archived
  std::string reason;      // why it is standby, or how it was deployed
  std::string job_id;
  int64_t created_at_ms = 0, deployed_at_ms = 0;
  int64_t size_bytes = 0;  // model file plus index
  std::string model_key, index_key;  // keys in the tenant's blob area
  std::string metrics_json = "{}", params_json = "{}", index_json = "{}";
  // Its share of the tenant's users, relative to the other live versions'
  // (0: it serves nobody); the deployed version's is > 0.
  double traffic_weight = 0;
};

class TrainingRecords {
 public:
  virtual ~TrainingRecords() = default;
  // Inserts or replaces the job (by job_id).
  virtual Status PutJob(const JobRecord& job) = 0;
  // kNotFound for an unknown job.
  virtual StatusOr<JobRecord> GetJob(const std::string& job_id) = 0;
  // Newest first; `statuses` empty: every job.
  virtual StatusOr<std::vector<JobRecord>> ListJobs(const std::vector<std::string>& statuses,
                                                    int limit) = 0;

  // Inserts or replaces the version (by version).
  virtual Status PutVersion(const ModelVersionRecord& v) = 0;
  // Newest first (by major, minor).
  virtual StatusOr<std::vector<ModelVersionRecord>> ListVersions() = 0;
  // kNotFound for an unknown version; kFailedPrecondition for the deployed one
  // or one with traffic.
  virtual Status DeleteVersion(const std::string& version) = 0;
  // In one transaction: `version` becomes deployed (reason recorded) with all
  // the traffic, the version deployed before becomes archived, and the event is appended to
  // the tenant's event log. kNotFound for an unknown version.
  virtual Status Deploy(const std::string& version, const std::string& reason,
                        const std::string& event_topic, const std::string& event_json,
                        int64_t now_ms) = 0;
  // In one transaction: the named versions get their weights (> 0), every
  // other version 0, and the event is appended. kNotFound for an unknown
  // version, kFailedPrecondition when the deployed version is not named.
  virtual Status SetTraffic(const std::vector<std::pair<std::string, double>>& weights,
                            const std::string& event_topic, const std::string& event_json,
                            int64_t now_ms) = 0;
};

}  // namespace embedrec::store
