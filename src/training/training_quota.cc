#include "training/training_quota.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/json_text.h"
#include "common/time_format.h"

namespace embedrec::training {

namespace {

struct Span {
  int64_t start_ms, end_ms;
};

// The jobs' training spans; an open job's ends now.
std::vector<Span> Spans(const std::vector<store::JobRecord>& jobs, int64_t now_ms) {
  std::vector<Span> out;
  for (const auto& j : jobs) {
    auto state = ParseJsonObject(j.state_json);
    const auto* started = state.if_contains("started_at");
    if (!started || !started->is_string()) continue;  // never ran
    auto start = ParseRfc3339Millis(started->get_string());
    if (!start) continue;
    int64_t end = now_ms;
    if (store::IsFinal(j.status)) {
      const auto* finished = state.if_contains("finished_at");
      auto at = finished && finished->is_string() ? ParseRfc3339Millis(finished->get_string()) : std::nullopt;
      end = at ? *at : j.updated_at_ms;
    }
    if (end > *start) out.push_back({*start, std::min(end, now_ms)});
  }
  return out;
}

double Overlap(const std::vector<Span>& spans, int64_t since_ms, int64_t now_ms) {
  int64_t ms = 0;
  for (const auto& s : spans) ms += std::max<int64_t>(0, std::min(s.end_ms, now_ms) - std::max(s.start_ms, since_ms));
  return static_cast<double>(ms) / 1000.0;
}

}  // namespace

double TrainingSecondsBetween(const std::vector<store::JobRecord>& jobs, int64_t since_ms, int64_t now_ms) {
  return Overlap(Spans(jobs, now_ms), since_ms, now_ms);
}

Status CheckTrainingQuota(store::TrainingRecords& records, double minutes_per_day, int64_t now_ms) {
  if (minutes_per_day <= 0) return Status::Ok();
  // Newest first; a day's jobs are far fewer than this.
  ASSIGN_OR_RETURN(auto jobs, records.ListJobs({}, 1000));
  const auto spans = Spans(jobs, now_ms);
  const double limit_s = minutes_per_day * 60;
  const double used_s = Overlap(spans, now_ms - kTrainingQuotaWindowMs, now_ms);
  if (used_s < limit_s) return Status::Ok();
  // The first moment (to the second) when the window, sliding on with no
  // more training, holds less than the limit.
  int64_t lo = 0, hi = kTrainingQuotaWindowMs / 1000;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (Overlap(spans, now_ms + mid * 1000 - kTrainingQuotaWindowMs, now_ms) < limit_s) hi = mid;
    else lo = mid + 1;
  }
  char used[32], limit[32];
  std::snprintf(used, sizeof used, "%.3g", used_s / 60);
  std::snprintf(limit, sizeof limit, "%g", minutes_per_day);
  return Status(StatusCode::kResourceExhausted,
                std::string("the tenant's training time in the last 24 hours (") + used + " minutes) has reached its limit of " +
                    limit + " minutes; retry after the time in Retry-After",
                "training_quota_exceeded",
                {{"used_minutes", used}, {"limit_minutes", limit}, {"retry_after_seconds", std::to_string(std::max<int64_t>(1, lo))}});
}

}  // namespace embedrec::training
