// A tenant's training jobs and model versions: the durable side of the
// training service (jobs survive restarts; versions are the model registry).
// Lives in the tenant's own database, beside its data.
//
// Thread safety: safe for concurrent use; methods block on I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <utility>

#include "common/status.h"

namespace embedrec::store {

// A training job's stage; a string ("loading_data", …) only at the edges:
// JSON documents and storage.
enum class JobStatus {
  kQueued, kLoadingData, kTraining, kEvaluating, kBuildingIndex, kDeploying,  // open
  kCompleted, kFailed, kCancelled,                                             // final
};
std::string_view JobStatusName(JobStatus s);
std::optional<JobStatus> ParseJobStatus(std::string_view name);
bool IsFinal(JobStatus s);
// Every status of a job that has not ended.
const std::vector<JobStatus>& OpenJobStatuses();

struct JobRecord {
  std::string job_id;
  JobStatus status = JobStatus::kQueued;
  std::string model_type;
  std::string mode;        // "full" | "incremental"
  std::string request_json = "{}";  // the validated request (hyperparameters, options)
  std::string state_json = "{}";    // the progress document last published
  int64_t created_at_ms = 0, updated_at_ms = 0;
};

// A stored model version: serving (deployed), kept to serve later
// (standby: not deployed by the gate or by request), or replaced (archived).
enum class VersionStatus { kDeployed, kStandby, kArchived };
std::string_view VersionStatusName(VersionStatus s);
std::optional<VersionStatus> ParseVersionStatus(std::string_view name);

struct ModelVersionRecord {
  std::string version;     // "v<major>.<minor>_<YYYYMMDD>"
  int major = 0, minor = 0;
  std::string model_type;
  VersionStatus status = VersionStatus::kStandby;
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

// The columns of the jobs' and versions' tables, in the order every backend
// reads and writes them (JobRecord's and ModelVersionRecord's fields).
inline constexpr const char* kJobColumns =
    "job_id, status, model_type, mode, request_json, state_json, created_at_ms, updated_at_ms";
inline constexpr const char* kVersionColumns =
    "version, major, minor, model_type, status, reason, job_id, created_at_ms, deployed_at_ms, "
    "size_bytes, model_key, index_key, metrics_json, params_json, index_json, traffic_weight";

class TrainingRecords {
 public:
  virtual ~TrainingRecords() = default;
  // Inserts or replaces the job (by job_id).
  virtual Status PutJob(const JobRecord& job) = 0;
  // kNotFound for an unknown job.
  virtual StatusOr<JobRecord> GetJob(const std::string& job_id) = 0;
  // Newest first; `statuses` empty: every job.
  virtual StatusOr<std::vector<JobRecord>> ListJobs(const std::vector<JobStatus>& statuses,
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
