#include "training/retrain_scheduler.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>

#include "common/json_text.h"
#include "common/thread_priority.h"

namespace embedrec::training {
namespace json = boost::json;

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int kJobsRead = 50;  // the newest jobs a look reads

std::string StringField(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

RetrainScheduler::RetrainScheduler(RetrainDeps deps, RetrainOptions options)
    : deps_(std::move(deps)), options_(options) {}

RetrainScheduler::~RetrainScheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetrainScheduler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RetrainScheduler::Watch(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  watched_.try_emplace(tenant_id, 0);  // looked at by the next pass
}

void RetrainScheduler::Forget(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  watched_.erase(tenant_id);
  changed_.erase(tenant_id);
  submitted_.erase(tenant_id);
  recommended_.erase(tenant_id);
}

bool RetrainScheduler::Recommended(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  auto it = recommended_.find(tenant_id);
  return it != recommended_.end() && it->second;
}

void RetrainScheduler::DataChanged(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  changed_.insert(tenant_id);
  watched_.try_emplace(tenant_id, 0);  // a tenant created since the start (no copy when watched)
}

StatusOr<RetrainState> RetrainScheduler::StateOf(const std::string& tenant_id, store::TenantStore& store,
                                                 const RetrainSettings& settings,
                                                 const store::ModelVersionRecord* deployed) {
  RetrainState st;
  const int64_t now = deps_.clock->NowMillis();
  st.has_deployed = deployed != nullptr;
  st.experiment_running = deps_.experimenting && deps_.experimenting(tenant_id);
  ASSIGN_OR_RETURN(auto jobs, store.training().ListJobs({}, kJobsRead));
  std::optional<int64_t> data_position;
  bool counting_incremental = true;
  for (const auto& job : jobs) {  // newest first
    const json::object doc = ParseJsonObject(job.state_json);
    const bool scheduled = StringField(doc, "started_by") == "system";
    if (!store::IsFinal(job.status)) st.job_active = true;
    if (!st.last_job_created_ms) {
      st.last_job_created_ms = job.created_at_ms;
      st.last_job_mode = job.mode;
      st.last_job_scheduled = scheduled;
      st.last_job_deployed = StringField(doc, "deployment_status") == "deployed";
    }
    if (job.status != store::JobStatus::kCompleted) continue;
    if (!st.last_trained_ms) {
      st.last_trained_ms = job.created_at_ms;
      if (const json::value* p = doc.if_contains("data_position"); p && p->is_int64()) data_position = p->as_int64();
    }
    if (counting_incremental) {
      if (job.mode == "incremental" && scheduled) {
        ++st.incremental_runs_since_full;
      } else if (job.mode == "full") {
        counting_incremental = false;
      }
    }
  }
  // Jobs from before data positions were recorded count nothing new: only
  // the interval and the metric trigger apply to them.
  if (data_position) {
    ASSIGN_OR_RETURN(st.new_interactions, store.CountNewInteractions(*data_position, settings.min_new_interactions));
  }
  if (deployed && deps_.rate && now - deployed->deployed_at_ms >= 2 * kDayMs) {
    auto at = deps_.rate(tenant_id, deployed->version, deployed->deployed_at_ms, deployed->deployed_at_ms + kDayMs);
    auto last = deps_.rate(tenant_id, deployed->version, now - kDayMs, now);
    if (at.ok() && last.ok() && at->impressions >= kMinImpressionsForRate &&
        last->impressions >= kMinImpressionsForRate) {
      st.rate_at_deployment = *at;
      st.rate_now = *last;
    }
  }
  return st;
}

StatusOr<RetrainScheduler::Look> RetrainScheduler::LookAt(const std::string& tenant_id) {
  Look look;
  ASSIGN_OR_RETURN(look.settings, deps_.settings_json(tenant_id));
  ASSIGN_OR_RETURN(RetrainSettings s, ParseRetrainSettings(ParseJsonObject(look.settings)));
  ASSIGN_OR_RETURN(auto store, deps_.stores->Open(tenant_id));
  ASSIGN_OR_RETURN(auto versions, store->training().ListVersions());
  for (auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed) look.deployed = std::move(v);
  }
  ASSIGN_OR_RETURN(RetrainState st, StateOf(tenant_id, *store, s, look.deployed ? &*look.deployed : nullptr));
  const int64_t now = deps_.clock->NowMillis(), jitter = RetrainJitterMs(tenant_id, s);
  // Recommended: a threshold is crossed and no job is under way, whether or
  // not the system starts one (switched off, or right after the last job).
  RetrainSettings on = s;
  on.auto_retrain = true;
  const bool recommended = DecideRetrain(on, st, now, jitter, /*min_gap_ms=*/0).has_value();
  {
    std::lock_guard lock(mu_);
    recommended_[tenant_id] = recommended;
  }
  if (s.auto_retrain) look.decision = DecideRetrain(s, st, now, jitter, options_.min_gap_ms);
  return look;
}

StatusOr<std::optional<RetrainDecision>> RetrainScheduler::Check(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(Look look, LookAt(tenant_id));
  return std::move(look.decision);
}

std::optional<json::object> RetrainScheduler::NamedBlend(const std::string& tenant_id,
                                                          const store::ModelVersionRecord& deployed,
                                                          const std::string& settings) {
  auto store = deps_.stores->Open(tenant_id);
  if (!store.ok()) return std::nullopt;
  auto job = (*store)->training().GetJob(deployed.job_id);  // pruned, or the auto search's: nullopt
  if (!job.ok()) return std::nullopt;
  const json::object request = ParseJsonObject(job->request_json);
  if (StringField(request, "model_type") != ml::ModelTypeName(ml::ModelType::kBlend)) return std::nullopt;
  const json::value* hyper = request.if_contains("hyperparameters");
  if (!hyper || !hyper->is_object()) return std::nullopt;
  json::object body{{"model_type", "blend"}, {"training_mode", "full"}, {"hyperparameters", *hyper}};
  if (!ParseJobRequest(body, settings).ok()) return std::nullopt;  // e.g. a part's type this version lacks
  return hyper->as_object();
}

StatusOr<std::optional<std::string>> RetrainScheduler::RunIfDue(const std::string& tenant_id) {
  ASSIGN_OR_RETURN(Look look, LookAt(tenant_id));
  if (!look.decision || !look.deployed) return std::optional<std::string>();
  const RetrainDecision& decision = *look.decision;
  const std::string& settings = look.settings;
  // The deployed model as it was trained: its type and hyperparameters,
  // continued (incremental) or trained again (full); the tenant's settings
  // fill in what it does not name.
  // A blend is trained again in full (none continues one): the parts its
  // job's request named, or, when the auto search chose it, searched for
  // again.
  const bool blend = look.deployed->model_type == ml::ModelTypeName(ml::ModelType::kBlend);
  const std::optional<json::object> named = blend ? NamedBlend(tenant_id, *look.deployed, settings) : std::nullopt;
  const std::string mode = blend ? "full" : decision.mode;
  json::object body{{"model_type", blend && !named ? std::string("auto") : look.deployed->model_type},
                    {"training_mode", mode}, {"auto_deploy", true}};
  json::object kept;
  for (const auto& [name, value] : blend ? json::object() : ParseJsonObject(look.deployed->params_json)) {
    // Each as a request would give it (a value a search chose beyond the
    // documented range is left to the settings).
    json::object one = body;
    one["hyperparameters"] = json::object{{name, value}};
    if (ParseJobRequest(one, settings).ok()) kept[name] = value;
  }
  body["hyperparameters"] = named ? *named : std::move(kept);
  ASSIGN_OR_RETURN(JobRequest request, ParseJobRequest(body, settings));
  json::object trigger{{"reason", decision.reason}};
  for (const auto& [k, v] : decision.figures) trigger[k] = v;
  if (blend) {
    trigger["training_mode_reason"] = named ? "the blend its request named is trained again (full)"
                                            : "the deployed blend is searched for again (auto, full)";
  }
  request.trigger_json = JsonText(trigger);
  request.started_by = "system";
  auto submitted = deps_.training->Submit(tenant_id, request);
  if (!submitted.ok()) {
    // A job started meanwhile (409), or too little data: the next pass looks again.
    if (submitted.status().code() == StatusCode::kFailedPrecondition) return std::optional<std::string>();
    return submitted.status();
  }
  spdlog::info("tenant {}: scheduled {} training ({}) as job {}", tenant_id, mode, decision.reason,
               submitted->job_id);
  std::lock_guard lock(mu_);
  submitted_[tenant_id] = submitted->job_id;
  recommended_[tenant_id] = false;  // under way
  return std::optional<std::string>(submitted->job_id);
}

int RetrainScheduler::SubmittedActive() {
  std::map<std::string, std::string> submitted;
  {
    std::lock_guard lock(mu_);
    submitted = submitted_;
  }
  int active = 0;
  for (const auto& [tenant, job] : submitted) {
    auto doc = deps_.training->Progress(tenant, job);
    bool open = false;
    if (doc.ok()) {
      auto status = store::ParseJobStatus(StringField(ParseJsonObject(*doc), "status"));
      open = status && !store::IsFinal(*status);
    }
    if (open) {
      ++active;
    } else {
      std::lock_guard lock(mu_);
      if (auto it = submitted_.find(tenant); it != submitted_.end() && it->second == job) submitted_.erase(it);
    }
  }
  return active;
}

void RetrainScheduler::Pass() {
  std::lock_guard pass(pass_mu_);
  const int64_t now = deps_.clock->NowMillis();
  std::set<std::string> due;
  {
    std::lock_guard lock(mu_);
    for (const auto& t : changed_) {
      if (watched_.count(t)) due.insert(t);
    }
    changed_.clear();
    for (auto& [t, looked] : watched_) {
      if (now - looked >= options_.recheck_all_ms) due.insert(t);
    }
  }
  int room = options_.max_submitted - SubmittedActive();
  for (const auto& t : due) {
    if (room <= 0) {
      std::lock_guard lock(mu_);
      changed_.insert(t);  // taken by a later pass
      continue;
    }
    auto job = RunIfDue(t);
    if (!job.ok()) {
      if (job.status().code() != StatusCode::kNotFound) {
        spdlog::warn("tenant {}: retraining check failed: {}", t, job.status().ToString());
      }
    } else if (*job) {
      --room;
    }
    std::lock_guard lock(mu_);
    if (auto it = watched_.find(t); it != watched_.end()) it->second = now;
  }
  passes_.fetch_add(1, std::memory_order_relaxed);
}

void RetrainScheduler::Loop() {
  (void)NiceThisThread(10);  // background work: requests come first
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.check_interval_ms), [&] { return stop_; });
    if (stop_) return;
    lock.unlock();
    Pass();
    lock.lock();
  }
}

}  // namespace embedrec::training
