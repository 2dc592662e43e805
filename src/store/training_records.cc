#include "store/training_records.h"

#include <array>

namespace embedrec::store {
namespace {
constexpr std::array<std::pair<JobStatus, std::string_view>, 9> kJobStatusNames = {{
    {JobStatus::kQueued, "queued"},
    {JobStatus::kLoadingData, "loading_data"},
    {JobStatus::kTraining, "training"},
    {JobStatus::kEvaluating, "evaluating"},
    {JobStatus::kBuildingIndex, "building_index"},
    {JobStatus::kDeploying, "deploying"},
    {JobStatus::kCompleted, "completed"},
    {JobStatus::kFailed, "failed"},
    {JobStatus::kCancelled, "cancelled"},
}};
}  // namespace

std::string_view JobStatusName(JobStatus s) {
  for (const auto& [status, name] : kJobStatusNames) {
    if (status == s) return name;
  }
  return "unknown";
}

std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  for (const auto& [status, n] : kJobStatusNames) {
    if (n == name) return status;
  }
  return std::nullopt;
}

bool IsFinal(JobStatus s) {
  return s == JobStatus::kCompleted || s == JobStatus::kFailed || s == JobStatus::kCancelled;
}

const std::vector<JobStatus>& OpenJobStatuses() {
  static const std::vector<JobStatus> kOpen = {JobStatus::kQueued,   JobStatus::kLoadingData,
                                               JobStatus::kTraining, JobStatus::kEvaluating,
                                               JobStatus::kBuildingIndex, JobStatus::kDeploying};
  return kOpen;
}

std::string_view VersionStatusName(VersionStatus s) {
  switch (s) {
    case VersionStatus::kDeployed: return "deployed";
    case VersionStatus::kStandby: return "standby";
    case VersionStatus::kArchived: return "archived";
  }
  return "standby";
}

std::optional<VersionStatus> ParseVersionStatus(std::string_view name) {
  for (VersionStatus s : {VersionStatus::kDeployed, VersionStatus::kStandby, VersionStatus::kArchived}) {
    if (VersionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace embedrec::store
