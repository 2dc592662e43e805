#include "experiments/experiment.h"

#include <boost/json.hpp>
#include <cmath>

#include "common/time_format.h"

namespace embedrec::experiments {
namespace json = boost::json;

std::vector<double> DefaultRollout(double traffic_share) {
  std::vector<double> out;
  for (double r : {0.25, 0.5, 1.0}) {
    if (r > traffic_share) out.push_back(r);
  }
  return out;
}

Status Validate(const ExperimentSpec& s) {
  auto bad = [](const char* field, std::string message) {
    return Status::Unprocessable(std::move(message), {{"field", field}});
  };
  if (s.name.empty() || s.name.size() > 200) return bad("name", "name must have 1 to 200 characters");
  if (s.challenger.empty()) return bad("challenger", "challenger must name a model version or be \"next\"");
  if (!(s.traffic_share > 0 && s.traffic_share < 1)) {
    return bad("traffic_share", "traffic_share must be above 0 and below 1");
  }
  if (!(s.confidence >= 0.5 && s.confidence < 1)) return bad("confidence", "confidence must be in [0.5, 1)");
  if (s.min_sample < 1) return bad("min_sample", "min_sample must be at least 1");
  if (s.rollout.empty() || s.rollout.back() != 1.0) return bad("rollout", "rollout must end at 1 (the promotion)");
  double last = s.traffic_share;
  for (double r : s.rollout) {
    if (!(r > last && r <= 1)) return bad("rollout", "rollout shares must rise above traffic_share up to 1");
    last = r;
  }
  for (const auto& [k, v] : s.challenger_settings) {
    if (k != "merchandising") return bad("challenger_settings", "challenger_settings takes merchandising");
    auto m = serving::ParseMerchandising(v);
    if (!m.ok()) {
      std::string field = "challenger_settings.merchandising";
      const Status refused = m.status();
      for (const auto& [dk, dv] : refused.details()) {
        if (dk == "field") field = "challenger_" + dv;  // settings.merchandising… → challenger_settings.merchandising…
      }
      return Status::Unprocessable(refused.message(), {{"field", field}});
    }
  }
  if (s.max_duration_days < 1) return bad("max_duration_days", "max_duration_days must be at least 1");
  if (!(s.max_error_rate_increase >= 0 && s.max_error_rate_increase <= 1)) {
    return bad("max_error_rate_increase", "max_error_rate_increase must be in [0, 1]");
  }
  if (!(s.max_latency_increase >= 0 && s.max_latency_increase <= 100)) {
    return bad("max_latency_increase", "max_latency_increase must be in [0, 100]");
  }
  return Status::Ok();
}

std::shared_ptr<const serving::Merchandising> ChallengerMerchandising(const ExperimentSpec& spec) {
  const json::value* v = spec.challenger_settings.if_contains("merchandising");
  if (!v) return nullptr;
  auto m = serving::ParseMerchandising(*v);
  return std::make_shared<const serving::Merchandising>(m.ok() ? std::move(m).value() : serving::Merchandising{});
}

void Experiment::Note(int64_t now_ms, const std::string& event, json::object extra) {
  json::object e{{"at", FormatRfc3339Millis(now_ms)}, {"event", event}, {"traffic_share", share}};
  for (auto& [k, v] : extra) e[k] = std::move(v);
  history.push_back(std::move(e));
}

namespace {
json::value Time(int64_t ms) { return ms > 0 ? json::value(FormatRfc3339Millis(ms)) : json::value(nullptr); }

double Number(const json::object& o, const char* key, double fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<double>() : fallback;
}
int64_t Int(const json::object& o, const char* key, int64_t fallback = 0) {
  return static_cast<int64_t>(std::llround(Number(o, key, static_cast<double>(fallback))));
}
std::string Text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

json::object Experiment::ToJson() const {
  json::array rollout;
  for (double r : spec.rollout) rollout.push_back(r);
  return json::object{
      {"experiment_id", id},
      {"name", spec.name},
      {"status", status},
      {"control", spec.control},
      {"challenger", spec.challenger},
      {"challenger_settings", spec.challenger_settings},
      {"metric", MetricName(spec.metric)},
      {"min_sample", spec.min_sample},
      {"confidence", spec.confidence},
      {"initial_traffic_share", spec.traffic_share},
      {"traffic_share", share},
      {"rollout", std::move(rollout)},
      {"step", step},
      {"max_duration_days", spec.max_duration_days},
      {"promote_if_inconclusive", spec.promote_if_inconclusive},
      {"guardrails", json::object{{"max_error_rate_increase", spec.max_error_rate_increase},
                                  {"max_latency_increase", spec.max_latency_increase}}},
      {"started_by", spec.started_by},
      {"p_value", p_value},
      {"statistics", statistics},
      {"decision", decision.empty() ? json::value(nullptr) : json::value(decision)},
      {"history", history},
      {"created_at", Time(created_at_ms)},
      {"started_at", Time(started_at_ms)},
      {"step_started_at", Time(step_started_at_ms)},
      {"ended_at", Time(ended_at_ms)},
      {"updated_at", Time(updated_at_ms)},
      // What a restart resumes from (milliseconds; the times above are for people).
      {"progress", json::object{{"created_at_ms", created_at_ms},
                                {"started_at_ms", started_at_ms},
                                {"step_started_at_ms", step_started_at_ms},
                                {"ended_at_ms", ended_at_ms},
                                {"updated_at_ms", updated_at_ms},
                                {"step_control_impressions", step_control_impressions},
                                {"step_challenger_impressions", step_challenger_impressions}}},
  };
}

StatusOr<Experiment> Experiment::FromJson(const json::object& doc) {
  Experiment e;
  e.id = Text(doc, "experiment_id");
  e.status = Text(doc, "status");
  if (e.id.empty() || e.status.empty()) return Status::FailedPrecondition("experiment document without id or status");
  ExperimentSpec& s = e.spec;
  s.name = Text(doc, "name");
  s.control = Text(doc, "control");
  s.challenger = Text(doc, "challenger");
  if (const json::value* v = doc.if_contains("challenger_settings"); v && v->is_object()) {
    s.challenger_settings = v->as_object();
  }
  auto metric = ParseMetric(Text(doc, "metric"));
  if (!metric) return Status::FailedPrecondition("experiment " + e.id + ": unknown metric");
  s.metric = *metric;
  s.min_sample = Int(doc, "min_sample", s.min_sample);
  s.confidence = Number(doc, "confidence", s.confidence);
  s.traffic_share = Number(doc, "initial_traffic_share", s.traffic_share);
  if (const json::value* r = doc.if_contains("rollout"); r && r->is_array()) {
    s.rollout.clear();
    for (const auto& x : r->as_array()) {
      if (x.is_number()) s.rollout.push_back(x.to_number<double>());
    }
  }
  s.max_duration_days = Int(doc, "max_duration_days", s.max_duration_days);
  if (const json::value* p = doc.if_contains("promote_if_inconclusive"); p && p->is_bool()) {
    s.promote_if_inconclusive = p->as_bool();
  }
  if (const json::value* g = doc.if_contains("guardrails"); g && g->is_object()) {
    s.max_error_rate_increase = Number(g->as_object(), "max_error_rate_increase", s.max_error_rate_increase);
    s.max_latency_increase = Number(g->as_object(), "max_latency_increase", s.max_latency_increase);
  }
  s.started_by = Text(doc, "started_by");
  e.share = Number(doc, "traffic_share", s.traffic_share);
  e.step = static_cast<int>(Int(doc, "step"));
  e.p_value = Number(doc, "p_value", 1);
  if (const json::value* v = doc.if_contains("statistics"); v && v->is_object()) e.statistics = v->as_object();
  if (const json::value* v = doc.if_contains("decision"); v && v->is_object()) e.decision = v->as_object();
  if (const json::value* v = doc.if_contains("history"); v && v->is_array()) e.history = v->as_array();
  if (const json::value* v = doc.if_contains("progress"); v && v->is_object()) {
    const json::object& p = v->as_object();
    e.created_at_ms = Int(p, "created_at_ms");
    e.started_at_ms = Int(p, "started_at_ms");
    e.step_started_at_ms = Int(p, "step_started_at_ms");
    e.ended_at_ms = Int(p, "ended_at_ms");
    e.updated_at_ms = Int(p, "updated_at_ms");
    e.step_control_impressions = Number(p, "step_control_impressions", 0);
    e.step_challenger_impressions = Number(p, "step_challenger_impressions", 0);
  }
  return e;
}

}  // namespace embedrec::experiments
