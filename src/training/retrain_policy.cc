#include "training/retrain_policy.h"

#include <cmath>
#include <cstdio>
#include <functional>

#include "common/json_fields.h"

namespace embedrec::training {
namespace json = boost::json;

namespace {

constexpr int64_t kDayMs = 86'400'000;

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

Status Range(const char* field, double lo, double hi) {
  const std::string name = std::string("settings.") + field;
  return FieldValueError(name, name + " must be " + Num(lo) + " to " + Num(hi));
}

}  // namespace

StatusOr<RetrainSettings> ParseRetrainSettings(const json::object& settings) {
  RetrainSettings s;
  if (const json::value* v = settings.if_contains("auto_retrain"); v && !v->is_null()) {
    if (!v->is_bool()) return FieldTypeError("settings.auto_retrain", "a boolean");
    s.auto_retrain = v->as_bool();
  }
  if (const json::value* v = settings.if_contains("retrain_experiment"); v && !v->is_null()) {
    if (!v->is_bool()) return FieldTypeError("settings.retrain_experiment", "a boolean");
    s.experiment = v->as_bool();
  }
  auto number = [&](const char* field, double lo, double hi, bool integer, double* out) -> Status {
    const json::value* v = settings.if_contains(field);
    if (!v || v->is_null()) return Status::Ok();
    if (!v->is_number()) return FieldTypeError(std::string("settings.") + field, "a number");
    const double d = v->to_number<double>();
    if (!(d >= lo && d <= hi) || (integer && d != std::floor(d))) return Range(field, lo, hi);
    *out = d;
    return Status::Ok();
  };
  double min_new = static_cast<double>(s.min_new_interactions), full = s.full_every;
  RETURN_IF_ERROR(number("retrain_interval_days", 0.01, 365, false, &s.interval_days));
  RETURN_IF_ERROR(number("retrain_min_new_interactions", 1, 1e9, true, &min_new));
  RETURN_IF_ERROR(number("retrain_metric_drop", 0.01, 0.9, false, &s.metric_drop));
  RETURN_IF_ERROR(number("full_retrain_every", 1, 100, true, &full));
  s.min_new_interactions = static_cast<int64_t>(min_new);
  s.full_every = static_cast<int>(full);
  return s;
}

int64_t RetrainJitterMs(const std::string& tenant_id, const RetrainSettings& s) {
  const auto span = static_cast<int64_t>(s.interval_days * kDayMs / 10);
  if (span <= 0) return 0;
  // FNV-1a: stable across processes and builds (std::hash need not be).
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : tenant_id) h = (h ^ c) * 1099511628211ULL;
  return static_cast<int64_t>(h % static_cast<uint64_t>(span));
}

std::optional<RetrainDecision> DecideRetrain(const RetrainSettings& s, const RetrainState& st, int64_t now_ms,
                                             int64_t jitter_ms, int64_t min_gap_ms) {
  if (!s.auto_retrain || !st.has_deployed || st.job_active || st.experiment_running) return std::nullopt;
  if (st.last_job_created_ms && now_ms - *st.last_job_created_ms < min_gap_ms) return std::nullopt;
  RetrainDecision d;
  if (st.new_interactions >= s.min_new_interactions) {
    d.reason = "new_interactions";
    d.figures = {{"new_interactions", st.new_interactions}, {"threshold", s.min_new_interactions}};
  } else if (st.last_trained_ms &&
             now_ms - *st.last_trained_ms >= static_cast<int64_t>(s.interval_days * kDayMs) + jitter_ms) {
    d.reason = "interval";
    d.figures = {{"days_since_last_training", std::round(double(now_ms - *st.last_trained_ms) / kDayMs * 100) / 100},
                 {"interval_days", s.interval_days}};
  } else if (st.rate_at_deployment && st.rate_now &&
             st.rate_now->rate() < st.rate_at_deployment->rate() * (1 - s.metric_drop)) {
    d.reason = "metric_drop";
    const double then = st.rate_at_deployment->rate(), now = st.rate_now->rate();
    d.figures = {{"metric", "ctr"},
                 {"at_deployment", std::round(then * 1e4) / 1e4},
                 {"last_day", std::round(now * 1e4) / 1e4},
                 {"drop", std::round((1 - now / then) * 1e4) / 1e4},
                 {"threshold", s.metric_drop}};
  } else {
    return std::nullopt;
  }
  const bool degraded = st.last_job_scheduled && st.last_job_mode == "incremental" && !st.last_job_deployed;
  const bool full_due = st.incremental_runs_since_full + 1 >= s.full_every;
  d.mode = degraded || full_due ? "full" : "incremental";
  d.figures["training_mode_reason"] =
      d.mode == "incremental" ? "warm start from the deployed model"
      : degraded              ? "the last incremental run was not deployed"
                              : "every " + std::to_string(s.full_every) + " runs one is full";
  return d;
}

}  // namespace embedrec::training
