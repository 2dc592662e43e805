// An experiment between two model versions of a tenant (issue 16): its
// definition, where it stands, and what was decided, with the JSON document
// it is stored as (store/experiment_records.h) and answered as.
//
// Life of an experiment:
//   waiting   (challenger "next": the tenant's next trained version enters)
//   running   users split by a stable hash of (experiment, user): a share
//             `traffic_share` sees the challenger, the rest the control
//     → challenger significantly better: rollout steps (e.g. 25 %, 50 %),
//       each held until both arms gained min_sample impressions and checked
//       (not significantly worse, guardrails hold), then 100 %: promoted
//       (the challenger deployed)
//     → significantly worse, or a guardrail broken (error rate, latency
//       p95): rolled_back (the control alone serves)
//     → max_duration_days without a decision: ended (the control stays),
//       or promoted when promote_if_inconclusive
//   promote / abort by hand: promoted / aborted
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "experiments/sequential_test.h"
#include "serving/merchandising.h"

namespace embedrec::experiments {

inline constexpr const char* kWaiting = "waiting";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kPromoted = "promoted";
inline constexpr const char* kRolledBack = "rolled_back";
inline constexpr const char* kEnded = "ended";
inline constexpr const char* kAborted = "aborted";
inline constexpr const char* kNextChallenger = "next";

struct ExperimentSpec {
  std::string name;
  std::string control;     // a model version: the deployed one
  std::string challenger;  // a model version, or "next"
  // A strategy arm (issue 16, item 4): settings the challenger's users are
  // served with instead of the tenant's — {"merchandising": {...}}
  // (serving/merchandising.h; {} inside: no rules). Empty: the tenant's.
  // Promoted, they become the tenant's settings.
  boost::json::object challenger_settings;
  double traffic_share = 0.10;
  Metric metric = Metric::kCtr;
  int64_t min_sample = 1000;  // users per arm before a decision; impressions per arm per rollout step
  double confidence = 0.95;
  // Shares after a win, the last 1 (promotion); empty: DefaultRollout.
  std::vector<double> rollout;
  int64_t max_duration_days = 30;
  bool promote_if_inconclusive = false;
  // Guardrails: the challenger's error rate above the control's by more
  // than this, or its latency p95 above the control's by more than this
  // share (and 2 ms), once each arm answered kGuardrailRequests.
  double max_error_rate_increase = 0.01;
  double max_latency_increase = 0.5;
  std::string started_by;  // who created it ("system" for a scheduled retrain)
};

// 25 %, 50 %, 100 %: those above `traffic_share`.
std::vector<double> DefaultRollout(double traffic_share);

// The challenger arm's merchandising (null: the tenant's; empty: none).
std::shared_ptr<const serving::Merchandising> ChallengerMerchandising(const ExperimentSpec& spec);

// kUnprocessable naming the field for a spec that cannot run (shares
// outside (0, 1), a rollout not ending at 1, ...).
Status Validate(const ExperimentSpec& spec);

struct Experiment {
  std::string id;  // "exp_" + 22 characters
  ExperimentSpec spec;
  std::string status = kRunning;
  int step = 0;  // 0: traffic_share; i > 0: spec.rollout[i − 1]
  double share = 0;  // the challenger's share of users now
  int64_t created_at_ms = 0, updated_at_ms = 0, started_at_ms = 0, step_started_at_ms = 0, ended_at_ms = 0;
  // Impressions per arm when the step began (a step is held for min_sample more).
  double step_control_impressions = 0, step_challenger_impressions = 0;
  double p_value = 1;               // always valid: the running minimum
  boost::json::object statistics;   // the last look's figures and test
  boost::json::object decision;     // {"outcome", "reason", "at"} once decided
  boost::json::array history;       // what happened, oldest first

  bool Open() const { return status == kWaiting || status == kRunning; }
  // Appends {"at", "event", "share", ...extra} to the history.
  void Note(int64_t now_ms, const std::string& event, boost::json::object extra = {});

  boost::json::object ToJson() const;
  // kFailedPrecondition for a document this build cannot read.
  static StatusOr<Experiment> FromJson(const boost::json::object& doc);
};

}  // namespace embedrec::experiments
