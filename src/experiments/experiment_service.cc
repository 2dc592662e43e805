#include "experiments/experiment_service.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>

#include "analytics/report.h"
#include "common/bit_mix.h"
#include "common/json_text.h"
#include "common/thread_priority.h"
#include "common/time_format.h"

namespace embedrec::experiments {
namespace json = boost::json;

namespace {
constexpr int64_t kDayMs = 86'400'000;
constexpr double kLatencyFloorMs = 2;  // a p95 rise below this is noise, whatever its share
const char* const kArmNames[2] = {"control", "challenger"};
static_assert(analytics::kLatencyBuckets == 44, "ExperimentService::Health's latency buckets");

const std::vector<std::string>& OpenStatuses() {
  static const std::vector<std::string> s = {kWaiting, kRunning};
  return s;
}

json::object ArmJson(const store::ArmSums& a, const Estimate& e) {
  return json::object{{"users", a.users},         {"impressions", a.impressions},
                      {"clicks", a.clicks},       {"conversions", a.orders},
                      {"revenue", a.revenue},     {"value", e.value},
                      {"standard_error", std::sqrt(e.variance)}};
}

analytics::Latency LatencyOf(const std::array<std::atomic<uint64_t>, 44>& buckets) {
  analytics::Latency l;
  for (size_t b = 0; b < buckets.size() && b < l.buckets.size(); ++b) {
    l.buckets[b] = static_cast<double>(buckets[b].load(std::memory_order_relaxed));
    l.calls += l.buckets[b];
  }
  return l;
}

// An arm's guardrail figures as they stand.
struct ArmFigures {
  double requests = 0, error_rate = 0, p95_ms = 0;
};
ArmFigures FiguresOf(const ArmHealth::Arm& arm) {
  ArmFigures f;
  f.requests = static_cast<double>(arm.requests.load(std::memory_order_relaxed));
  if (f.requests > 0) f.error_rate = static_cast<double>(arm.errors.load(std::memory_order_relaxed)) / f.requests;
  f.p95_ms = LatencyOf(arm.latency).Quantile(0.95);
  return f;
}
}  // namespace

bool InChallengerArm(const std::string& experiment_id, const std::string& user_id, double share) {
  // FNV-1a (stable across processes and builds), then mixed.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : experiment_id) h = (h ^ c) * 1099511628211ULL;
  h = (h ^ 0xff) * 1099511628211ULL;
  for (unsigned char c : user_id) h = (h ^ c) * 1099511628211ULL;
  const double u = static_cast<double>(MixBits64(h) >> 11) * 0x1.0p-53;
  return u < share;
}

ExperimentService::ExperimentService(ExperimentDeps deps, ExperimentOptions options)
    : deps_(std::move(deps)), options_(options) {}

ExperimentService::~ExperimentService() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExperimentService::Start() {
  if (options_.check_interval_ms > 0) thread_ = std::thread([this] { Loop(); });
}

void ExperimentService::Loop() {
  (void)NiceThisThread(10);
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.check_interval_ms), [&] { return stop_; });
    if (stop_) return;
    lock.unlock();
    CheckAll();
    lock.lock();
  }
}

void ExperimentService::CheckAll() {
  std::vector<std::string> tenants;
  {
    std::lock_guard lock(mu_);
    for (const auto& [t, a] : active_) tenants.push_back(t);
  }
  for (const auto& t : tenants) {
    Status s = Check(t);
    if (!s.ok()) spdlog::warn("tenant {}: experiment check: {}", t, s.ToString());
  }
}

Status ExperimentService::Recover(const std::string& tenant_id) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto open, OpenOf(*store));
  if (open) Follow(tenant_id, *open);
  return Status::Ok();
}

void ExperimentService::Forget(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  active_.erase(tenant_id);
}

StatusOr<std::optional<Experiment>> ExperimentService::OpenOf(store::TenantStore& store) {
  ASSIGN_OR_RETURN(auto records, store.experiments().ListExperiments(OpenStatuses(), 1));
  if (records.empty()) return std::optional<Experiment>();
  ASSIGN_OR_RETURN(Experiment e, Experiment::FromJson(ParseJsonObject(records[0].doc_json)));
  return std::optional<Experiment>(std::move(e));
}

StatusOr<Experiment> ExperimentService::Load(store::TenantStore& store, const std::string& experiment_id) {
  ASSIGN_OR_RETURN(auto record, store.experiments().GetExperiment(experiment_id));
  return Experiment::FromJson(ParseJsonObject(record.doc_json));
}

Status ExperimentService::Save(store::TenantStore& store, Experiment& e) {
  e.updated_at_ms = deps_.clock->NowMillis();
  return store.experiments().PutExperiment(
      {e.id, e.status, e.created_at_ms, e.updated_at_ms, JsonText(e.ToJson())});
}

std::shared_ptr<ExperimentService::Health> ExperimentService::HealthOf(const std::string& tenant_id,
                                                                       const std::string& experiment_id) const {
  std::lock_guard lock(mu_);
  auto it = active_.find(tenant_id);
  if (it != active_.end() && it->second->experiment_id == experiment_id) return it->second->health;
  return nullptr;
}

Status ExperimentService::Publish(const std::string& tenant_id, store::TenantStore& store, Experiment& e) {
  RETURN_IF_ERROR(Save(store, e));
  Follow(tenant_id, e);
  return Status::Ok();
}

void ExperimentService::Follow(const std::string& tenant_id, const Experiment& e) {
  std::shared_ptr<Health> health = HealthOf(tenant_id, e.id);
  std::lock_guard lock(mu_);
  if (e.status != kRunning) {
    active_.erase(tenant_id);
    return;
  }
  auto a = std::make_shared<Active>();
  a->experiment_id = e.id;
  a->control = e.spec.control;
  a->challenger = e.spec.challenger;
  a->share = e.share;
  a->health = health ? std::move(health) : std::make_shared<Health>();
  a->challenger_merchandising = ChallengerMerchandising(e.spec);
  active_[tenant_id] = std::move(a);
}

StatusOr<Experiment> ExperimentService::Create(const std::string& tenant_id, ExperimentSpec spec) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto open, OpenOf(*store));
  if (open) {
    return Status::FailedPrecondition("experiment '" + open->id + "' is still " + open->status +
                                      "; promote or abort it first");
  }
  ASSIGN_OR_RETURN(auto versions, store->training().ListVersions());
  const store::ModelVersionRecord* deployed = nullptr;
  const store::ModelVersionRecord* challenger = nullptr;
  for (const auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed) deployed = &v;
    if (v.version == spec.challenger) challenger = &v;
  }
  if (!deployed) return Status::FailedPrecondition("the tenant has no deployed model to compare against");
  if (spec.control.empty()) spec.control = deployed->version;
  if (spec.control != deployed->version) {
    return Status::FailedPrecondition("control must be the deployed version ('" + deployed->version + "')");
  }
  if (spec.challenger != kNextChallenger && !challenger) {
    return Status::NotFound("challenger: model version '" + spec.challenger + "' does not exist");
  }
  if (spec.rollout.empty()) spec.rollout = DefaultRollout(spec.traffic_share);
  RETURN_IF_ERROR(Validate(spec));
  Experiment e;
  e.id = deps_.ids->Next("exp_");
  e.spec = std::move(spec);
  e.created_at_ms = deps_.clock->NowMillis();
  e.share = 0;
  e.Note(e.created_at_ms, "created", json::object{{"started_by", e.spec.started_by}});
  if (e.spec.challenger == kNextChallenger) {
    e.status = kWaiting;
    RETURN_IF_ERROR(Publish(tenant_id, *store, e));
    return e;
  }
  RETURN_IF_ERROR(Begin(tenant_id, *store, e));
  return e;
}

Status ExperimentService::Begin(const std::string& tenant_id, store::TenantStore& store, Experiment& e) {
  RETURN_IF_ERROR(deps_.split(tenant_id, e.spec.control, e.spec.challenger, e.spec.traffic_share));
  const int64_t now = deps_.clock->NowMillis();
  e.status = kRunning;
  e.step = 0;
  e.share = e.spec.traffic_share;
  e.started_at_ms = e.step_started_at_ms = now;
  e.Note(now, "started", json::object{{"challenger", e.spec.challenger}});
  Status s = Publish(tenant_id, store, e);
  if (!s.ok()) (void)deps_.split(tenant_id, e.spec.control, "", 0);  // nothing recorded: nothing split
  return s;
}

StatusOr<std::vector<Experiment>> ExperimentService::List(const std::string& tenant_id, int limit) {
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto records, store->experiments().ListExperiments({}, limit));
  std::vector<Experiment> out;
  for (const auto& r : records) {
    auto e = Experiment::FromJson(ParseJsonObject(r.doc_json));
    if (e.ok()) out.push_back(std::move(e).value());
  }
  return out;
}

StatusOr<Experiment> ExperimentService::Get(const std::string& tenant_id, const std::string& experiment_id) {
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(Experiment e, Load(*store, experiment_id));
  if (e.status == kRunning) {
    store::ArmSums c, h;
    (void)Look(tenant_id, e, &c, &h);  // figures as they stand (the decision waits for the next check)
  }
  return e;
}

StatusOr<TestResult> ExperimentService::Look(const std::string& tenant_id, Experiment& e, store::ArmSums* control,
                                             store::ArmSums* challenger) {
  ASSIGN_OR_RETURN(auto arms, deps_.arms(tenant_id, e.id));
  *control = arms["control"];
  *challenger = arms["challenger"];
  TestResult r = Compare(*control, *challenger, e.spec.metric, e.spec.confidence,
                         static_cast<double>(e.spec.min_sample), e.p_value);
  e.p_value = r.p_value;
  json::object stats{
      {"metric", MetricName(e.spec.metric)},
      {"arms", json::object{{"control", ArmJson(*control, r.control)},
                            {"challenger", ArmJson(*challenger, r.challenger)}}},
      {"difference", r.difference},
      {"relative_lift", r.relative_lift},
      {"test", "msprt"},
      {"likelihood_ratio", r.likelihood_ratio},
      {"p_value", r.p_value},
      {"probability_challenger_better", r.probability_better},
      {"outcome", OutcomeName(r.outcome)},
      {"at", FormatRfc3339Millis(deps_.clock->NowMillis())}};
  if (auto health = HealthOf(tenant_id, e.id)) {
    json::object guard;
    for (int i = 0; i < 2; ++i) {
      const ArmFigures f = FiguresOf(health->arms[i]);
      guard[kArmNames[i]] =
          json::object{{"requests", f.requests}, {"error_rate", f.error_rate}, {"latency_p95_ms", f.p95_ms}};
    }
    stats["guardrails"] = std::move(guard);
  }
  e.statistics = std::move(stats);
  return r;
}

Status ExperimentService::Check(const std::string& tenant_id) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto open, OpenOf(*store));
  if (!open || open->status != kRunning) {
    std::lock_guard lock(mu_);
    active_.erase(tenant_id);
    return Status::Ok();
  }
  Experiment& e = *open;
  const int64_t now = deps_.clock->NowMillis();
  // Serving changed by hand (a deploy, a new split): the experiment cannot go on.
  ASSIGN_OR_RETURN(auto versions, store->training().ListVersions());
  std::string deployed;
  double challenger_weight = 0;
  for (const auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed) deployed = v.version;
    if (v.version == e.spec.challenger) challenger_weight = v.traffic_weight;
  }
  if (deployed != e.spec.control) {
    return Close(tenant_id, *store, e, kAborted, "serving_changed",
                 "the control is no longer the deployed version (deployed now: '" + deployed + "')", Serve::kAsIs);
  }
  if (challenger_weight <= 0 && e.spec.challenger != e.spec.control) {
    return Close(tenant_id, *store, e, kAborted, "serving_changed",
                 "the challenger no longer serves (the traffic split was changed)", Serve::kAsIs);
  }
  store::ArmSums control, challenger;
  ASSIGN_OR_RETURN(TestResult r, Look(tenant_id, e, &control, &challenger));
  std::optional<std::string> broken;
  if (auto health = HealthOf(tenant_id, e.id)) {
    const ArmFigures c = FiguresOf(health->arms[0]), h = FiguresOf(health->arms[1]);
    const auto enough = static_cast<double>(options_.guardrail_requests);
    if (c.requests >= enough && h.requests >= enough) {
      if (h.error_rate - c.error_rate > e.spec.max_error_rate_increase) {
        broken = "error rate " + std::to_string(h.error_rate) + " against the control's " + std::to_string(c.error_rate);
      } else if (h.p95_ms > c.p95_ms * (1 + e.spec.max_latency_increase) && h.p95_ms - c.p95_ms > kLatencyFloorMs) {
        broken = "latency p95 " + std::to_string(h.p95_ms) + " ms against the control's " + std::to_string(c.p95_ms) +
                 " ms";
      }
    }
  }
  if (broken) return Close(tenant_id, *store, e, kRolledBack, "guardrail", "guardrail broken: " + *broken, Serve::kControl);
  const std::string metric(MetricName(e.spec.metric));
  if (e.step == 0) {
    // The first decision: the sequential test, in the direction of the look that decided.
    if (r.outcome == Outcome::kChallengerWorse) {
      return Close(tenant_id, *store, e, kRolledBack, "challenger_lost",
                   "the challenger's " + metric + " is lower (p = " + std::to_string(r.p_value) + ")",
                   Serve::kControl);
    }
    if (r.outcome == Outcome::kChallengerBetter) {
      e.Note(now, "challenger_better", json::object{{"p_value", r.p_value}, {"relative_lift", r.relative_lift}});
      return Advance(tenant_id, *store, e, control, challenger);
    }
  } else if (control.impressions - e.step_control_impressions >= static_cast<double>(e.spec.min_sample) &&
             challenger.impressions - e.step_challenger_impressions >= static_cast<double>(e.spec.min_sample)) {
    // A later step: the always-valid p-value, once low, stays low, so it
    // cannot tell whether the lead still holds. All the figures so far
    // must still show it (the probability that the challenger is better,
    // at the experiment's confidence) for the next share; where they show
    // the challenger worse at that confidence it is rolled back (an early
    // lucky streak, or a lead that faded: a novelty, a trend); in between,
    // the step waits for more users.
    if (r.probability_better >= e.spec.confidence) {
      e.Note(now, "step_checked", json::object{{"p_value", r.p_value},
                                               {"relative_lift", r.relative_lift},
                                               {"probability_challenger_better", r.probability_better}});
      return Advance(tenant_id, *store, e, control, challenger);
    }
    if (r.probability_better <= 1 - e.spec.confidence) {
      return Close(tenant_id, *store, e, kRolledBack, "challenger_lost",
                   "the challenger's " + metric + " fell below the control's during the rollout (probability "
                   "the challenger is better " + std::to_string(r.probability_better) + ")",
                   Serve::kControl);
    }
  }
  if (now - e.started_at_ms >= e.spec.max_duration_days * kDayMs) {
    const std::string why = "no decision within " + std::to_string(e.spec.max_duration_days) + " days";
    if (e.spec.promote_if_inconclusive) {
      return Close(tenant_id, *store, e, kPromoted, "inconclusive", why + ": promoted (promote_if_inconclusive)",
                   Serve::kChallenger);
    }
    return Close(tenant_id, *store, e, kEnded, "inconclusive", why + ": the control stays", Serve::kControl);
  }
  return Save(*store, e);
}

Status ExperimentService::Advance(const std::string& tenant_id, store::TenantStore& store, Experiment& e,
                                  const store::ArmSums& control, const store::ArmSums& challenger) {
  const double next = e.spec.rollout[std::min<size_t>(static_cast<size_t>(e.step), e.spec.rollout.size() - 1)];
  if (next >= 1) {
    return Close(tenant_id, store, e, kPromoted, "challenger_won",
                 "the challenger's " + std::string(MetricName(e.spec.metric)) + " is higher (p = " +
                     std::to_string(e.p_value) + "), rolled out step by step",
                 Serve::kChallenger);
  }
  RETURN_IF_ERROR(deps_.split(tenant_id, e.spec.control, e.spec.challenger, next));
  const int64_t now = deps_.clock->NowMillis();
  e.step += 1;
  e.share = next;
  e.step_started_at_ms = now;
  e.step_control_impressions = control.impressions;
  e.step_challenger_impressions = challenger.impressions;
  e.Note(now, "rollout_step", json::object{{"step", e.step}});
  return Publish(tenant_id, store, e);
}

Status ExperimentService::Close(const std::string& tenant_id, store::TenantStore& store, Experiment& e,
                                const char* status, const std::string& outcome, const std::string& reason,
                                Serve serve) {
  const int64_t now = deps_.clock->NowMillis();
  const std::string why = "experiment " + e.id + " (" + e.spec.name + "): " + reason;
  if (serve == Serve::kChallenger) {
    if (!e.spec.challenger_settings.empty() && deps_.apply_settings) {
      RETURN_IF_ERROR(deps_.apply_settings(tenant_id, e.spec.challenger_settings));
    }
    if (e.spec.challenger != e.spec.control) RETURN_IF_ERROR(deps_.deploy(tenant_id, e.spec.challenger, why));
    else if (e.status == kRunning) RETURN_IF_ERROR(deps_.split(tenant_id, e.spec.control, "", 0));
  } else if (serve == Serve::kControl && e.status == kRunning) {
    RETURN_IF_ERROR(deps_.split(tenant_id, e.spec.control, "", 0));
  }
  e.status = status;
  e.share = serve == Serve::kChallenger ? 1.0 : 0.0;
  e.ended_at_ms = now;
  e.decision = json::object{{"outcome", outcome}, {"reason", reason}, {"at", FormatRfc3339Millis(now)}};
  e.Note(now, status, json::object{{"outcome", outcome}, {"reason", reason}});
  spdlog::info("tenant {}: {}", tenant_id, why);
  return Publish(tenant_id, store, e);
}

StatusOr<Experiment> ExperimentService::Promote(const std::string& tenant_id, const std::string& experiment_id,
                                                const std::string& who) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(Experiment e, Load(*store, experiment_id));
  if (e.status != kRunning) {
    return Status::FailedPrecondition("experiment '" + e.id + "' is " + e.status + ": only a running one can be promoted");
  }
  store::ArmSums c, h;
  (void)Look(tenant_id, e, &c, &h);
  RETURN_IF_ERROR(Close(tenant_id, *store, e, kPromoted, "promoted", "promoted by " + who, Serve::kChallenger));
  return e;
}

StatusOr<Experiment> ExperimentService::Abort(const std::string& tenant_id, const std::string& experiment_id,
                                              const std::string& who) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(Experiment e, Load(*store, experiment_id));
  if (!e.Open()) {
    return Status::FailedPrecondition("experiment '" + e.id + "' is " + e.status + ": it has already ended");
  }
  if (e.status == kRunning) {
    store::ArmSums c, h;
    (void)Look(tenant_id, e, &c, &h);
  }
  RETURN_IF_ERROR(Close(tenant_id, *store, e, kAborted, "aborted", "aborted by " + who, Serve::kControl));
  return e;
}

StatusOr<std::optional<std::string>> ExperimentService::EnterChallenger(const std::string& tenant_id,
                                                                        const std::string& version, bool scheduled) {
  std::lock_guard ops(ops_mu_);
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto open, OpenOf(*store));
  if (open && open->status == kRunning) return std::optional<std::string>();  // one at a time: deployed as usual
  std::string deployed;
  ASSIGN_OR_RETURN(auto versions, store->training().ListVersions());
  for (const auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed) deployed = v.version;
  }
  if (deployed.empty()) return std::optional<std::string>();
  Experiment e;
  if (open) {
    e = std::move(*open);
    e.spec.control = deployed;  // the deployed version may have changed while it waited
  } else if (scheduled) {
    e.id = deps_.ids->Next("exp_");
    e.created_at_ms = deps_.clock->NowMillis();
    e.spec.name = "scheduled retrain " + version;
    e.spec.control = deployed;
    e.spec.started_by = "system";
    e.spec.rollout = DefaultRollout(e.spec.traffic_share);
    e.Note(e.created_at_ms, "created", json::object{{"started_by", "system"}});
  } else {
    return std::optional<std::string>();
  }
  e.spec.challenger = version;
  RETURN_IF_ERROR(Begin(tenant_id, *store, e));
  return std::optional<std::string>(e.id);
}

std::optional<Assignment> ExperimentService::Assign(const std::string& tenant_id, const std::string& user_id) const {
  std::shared_ptr<const Active> a;
  {
    std::lock_guard lock(mu_);
    if (active_.empty()) return std::nullopt;
    auto it = active_.find(tenant_id);
    if (it == active_.end()) return std::nullopt;
    a = it->second;
  }
  const bool challenger = InChallengerArm(a->experiment_id, user_id, a->share);
  return Assignment{a->experiment_id, kArmNames[challenger ? 1 : 0], challenger ? a->challenger : a->control,
                    a->health, challenger ? a->challenger_merchandising : nullptr};
}

void ExperimentService::Observe(const Assignment& asg, double ms, bool error) {
  if (!asg.health) return;
  auto& arm = asg.health->arms[asg.arm == kArmNames[1] ? 1 : 0];
  arm.requests.fetch_add(1, std::memory_order_relaxed);
  if (error) arm.errors.fetch_add(1, std::memory_order_relaxed);
  const int b = std::clamp(analytics::LatencyBucket(ms), 0, static_cast<int>(arm.latency.size()) - 1);
  arm.latency[static_cast<size_t>(b)].fetch_add(1, std::memory_order_relaxed);
}

bool ExperimentService::Running(const std::string& tenant_id) const {
  std::lock_guard lock(mu_);
  return active_.count(tenant_id) > 0;
}

}  // namespace embedrec::experiments
