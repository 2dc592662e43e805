// A tenant's training time over the last 24 hours, from its job records,
// against its limit (tenants/tenant_limits.h training_minutes_per_day).
// Every job counts from its started_at to its finished_at, or to now while
// it runs, whoever submitted it (the API or the retraining schedule).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "store/training_records.h"

namespace embedrec::training {

inline constexpr int64_t kTrainingQuotaWindowMs = 24 * 3'600'000;

// Seconds of the jobs' training inside [since_ms, now_ms].
double TrainingSecondsBetween(const std::vector<store::JobRecord>& jobs, int64_t since_ms, int64_t now_ms);

// OK while the last 24 hours hold less than `minutes_per_day` of training
// (0: no limit). Otherwise 429 training_quota_exceeded, with details
// used_minutes, limit_minutes and retry_after_seconds: when enough of that
// time has left the window.
Status CheckTrainingQuota(store::TrainingRecords& records, double minutes_per_day, int64_t now_ms);

}  // namespace embedrec::training
