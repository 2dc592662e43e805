// When a tenant's model is retrained without a person (seed step 10): the
// tenant's settings, what is known of its data and model, and the decision —
// pure, so the rules are tested without a clock or a store.
//
// A run is due, in this order, when:
//   new_interactions  at least `retrain_min_new_interactions` interactions
//                     arrived (tracked, or rows of interaction uploads) since
//                     the data the newest completed job trained on;
//   interval          `retrain_interval_days` passed since the newest job that
//                     completed was created, plus a per-tenant delay of up to a
//                     tenth of the interval (so tenants trained together do not
//                     retrain together);
//   metric_drop       the deployed version's click-through rate over the last
//                     day fell more than `retrain_metric_drop` below its rate
//                     over its first day (both with enough impressions).
// Never while a job is queued or running, nor while an experiment runs, within `min_gap_ms` (an hour) of
// the newest job's creation (a failed run is not retried at once), or for a tenant without a
// deployed model (its first model is trained by request). Runs are
// incremental (warm-started from the deployed model), except every
// `full_retrain_every`-th scheduled run and the run after an incremental one
// that was not deployed (it degraded), which are full.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace embedrec::training {

// Tenant settings (top-level keys of the tenant's settings object).
struct RetrainSettings {
  bool auto_retrain = true;                  // auto_retrain
  double interval_days = 7;                  // retrain_interval_days (0.01 to 365)
  int64_t min_new_interactions = 10000;      // retrain_min_new_interactions (1 to 1e9)
  double metric_drop = 0.10;                 // retrain_metric_drop (0.01 to 0.9)
  int full_every = 4;                        // full_retrain_every (1: always full; to 100)
  // retrain_experiment: a scheduled run's version that passes the deploy gate
  // enters an experiment against the deployed one (experiments/) instead of
  // replacing it at once.
  bool experiment = true;
};
// Reads them (missing: defaults); a wrong type or a value out of range is an
// error naming the field (common/json_fields.h).
StatusOr<RetrainSettings> ParseRetrainSettings(const boost::json::object& settings);

// The click-through rate of the deployed version, from analytics.
struct OnlineRate {
  double impressions = 0, clicks = 0;
  double rate() const { return impressions > 0 ? clicks / impressions : 0; }
};
inline constexpr double kMinImpressionsForRate = 1000;

struct RetrainState {
  bool has_deployed = false;
  bool job_active = false;                // queued or running
  bool experiment_running = false;        // its versions are being compared: no run meanwhile
  // The newest job, if any (whatever its end), and the newest that completed.
  std::optional<int64_t> last_job_created_ms;
  std::optional<int64_t> last_trained_ms;
  std::string last_job_mode;              // "full" | "incremental"
  bool last_job_scheduled = false;        // started by the scheduler
  bool last_job_deployed = false;         // its version went live
  int incremental_runs_since_full = 0;    // scheduled incremental runs since the newest full job
  int64_t new_interactions = 0;           // since the newest completed job's data (counted up to the threshold)
  // The deployed version's rate over its first day and over the last day
  // (nullopt: not known, or not a day old, or too few impressions).
  std::optional<OnlineRate> rate_at_deployment, rate_now;
};

struct RetrainDecision {
  std::string reason;             // new_interactions | interval | metric_drop
  std::string mode;               // full | incremental
  boost::json::object figures;    // what crossed the threshold, for the job record
};

inline constexpr int64_t kMinRetrainGapMs = 3'600'000;

// `jitter_ms`: the tenant's delay added to the interval (RetrainJitterMs).
std::optional<RetrainDecision> DecideRetrain(const RetrainSettings& s, const RetrainState& state, int64_t now_ms,
                                             int64_t jitter_ms, int64_t min_gap_ms = kMinRetrainGapMs);
// A stable per-tenant delay in [0, interval / 10).
int64_t RetrainJitterMs(const std::string& tenant_id, const RetrainSettings& s);

}  // namespace embedrec::training
