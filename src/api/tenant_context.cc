#include "api/tenant_context.h"

#include "events/event_relay.h"

#include <chrono>

#include "analytics/analytics.h"
#include "auth/authenticator.h"
#include "experiments/experiment_service.h"
#include "ingest/data_quality.h"
#include "ingest/ingest_service.h"
#include "ingest/upload_progress.h"
#include "serving/activity.h"
#include "serving/catalog.h"
#include "serving/deployed_models.h"
#include "serving/recommendation_service.h"
#include "serving/recommender.h"
#include "training/retrain_scheduler.h"
#include "training/training_service.h"

namespace embedrec::api {

TenantContext::TenantContext(const TenantServices* services, auth::Principal who, std::string tenant_id)
    : s_(services), who_(std::move(who)), tenant_id_(std::move(tenant_id)) {}

int64_t TenantContext::NowMillis() const { return s_->clock->NowMillis(); }

StatusOr<store::TenantRecord> TenantContext::Record() const { return s_->control->GetTenant(tenant_id_); }

StatusOr<TenantRules> TenantContext::Rules() const { return s_->settings->Rules(tenant_id_); }

StatusOr<std::shared_ptr<store::TenantStore>> TenantContext::Store() const {
  if (!store_) {
    ASSIGN_OR_RETURN(store_, s_->stores->Open(tenant_id_));
  }
  return store_;
}

Status TenantContext::CreateUser(const store::UserRecord& user) const {
  if (user.tenant_id != tenant_id_) return Status::Internal("a user of another tenant");
  return s_->control->CreateUser(user);
}

StatusOr<std::vector<store::UserRecord>> TenantContext::Users() const {
  return s_->control->ListUsers(tenant_id_);
}

Status TenantContext::CreateApiKey(const store::ApiKeyRecord& key) const {
  if (key.tenant_id != tenant_id_) return Status::Internal("an API key of another tenant");
  return s_->control->CreateApiKey(key);
}

StatusOr<std::vector<store::ApiKeyRecord>> TenantContext::ApiKeys() const {
  return s_->control->ListApiKeys(tenant_id_);
}

Status TenantContext::RevokeApiKey(const std::string& key_id) const {
  RETURN_IF_ERROR(s_->control->RevokeApiKey(tenant_id_, key_id, NowMillis()));
  s_->authenticator->Invalidate();
  return Status::Ok();
}

StatusOr<std::unique_ptr<tenants::DataQuotas::Slot>> TenantContext::AdmitUpload() const {
  if (!s_->data_quotas) return std::unique_ptr<tenants::DataQuotas::Slot>();
  ASSIGN_OR_RETURN(TenantRules rules, Rules());
  return s_->data_quotas->Admit(tenant_id_, rules.limits);
}

StatusOr<boost::json::object> TenantContext::UploadItems(ingest::UploadSource source,
                                                         ingest::ItemsMode mode) const {
  ASSIGN_OR_RETURN(TenantRules rules, Rules());
  auto out = s_->ingest->UploadItems(tenant_id_, std::move(source), mode, rules.currency);
  if (s_->data_quotas) s_->data_quotas->Changed(tenant_id_);
  if (!out.ok()) return out.status();
  CountImported(*out);
  return out;
}

void TenantContext::CountImported(const boost::json::object& upload) const {
  if (!s_->analytics) return;
  const boost::json::value* rows = upload.if_contains("rows_accepted");
  if (rows && rows->is_number()) {
    s_->analytics->Imported(tenant_id_, who_.key_id, static_cast<int64_t>(rows->to_number<double>()));
  }
}

StatusOr<boost::json::object> TenantContext::UploadInteractions(ingest::UploadSource source) const {
  ASSIGN_OR_RETURN(TenantRules rules, Rules());
  auto out = s_->ingest->UploadInteractions(tenant_id_, std::move(source), rules.custom_types, rules.currency);
  if (s_->data_quotas) s_->data_quotas->Changed(tenant_id_);
  if (!out.ok()) return out.status();
  CountImported(*out);
  return out;
}

StatusOr<ingest::CountedData> TenantContext::DataCounts() const {
  return s_->data_quality->Exact(tenant_id_);
}

StatusOr<std::optional<ingest::CountedData>> TenantContext::RecentDataCounts(int64_t rescan_after_ms) const {
  return s_->data_quality->Recent(tenant_id_, rescan_after_ms);
}

StatusOr<bool> TenantContext::PutItem(const store::ItemRecord& item) const {
  return s_->ingest->PutItem(tenant_id_, item);
}

Status TenantContext::DeleteItem(const std::string& item_id) const {
  return s_->ingest->DeleteItem(tenant_id_, item_id);
}

TenantContext::EventRules TenantContext::RulesFor(const store::TrackEvent& event, const TenantRules& rules) {
  return {rules.weights.Weight(event.type), rules.click_window_ms, rules.conversion_window_ms};
}

void TenantContext::TrackAsync(store::TrackEvent event, const TenantRules& rules, TrackDone done,
                               RunOn run_on) const {
  if (s_->data_quotas) {
    // Admitted at once from the figures in memory (no callback made); while
    // the tenant's are unknown, on the lane that reads them once they are.
    if (auto verdict = s_->data_quotas->TryAdmitTracked(tenant_id_, rules.limits, 1)) {
      if (!verdict->ok()) return done(*verdict);
      return TrackAdmitted(std::move(event), rules, std::move(done), std::move(run_on));
    }
    return s_->data_quotas->AdmitTracked(
        tenant_id_, rules.limits, 1,
        [ctx = *this, event = std::move(event), rules, done = std::move(done),
         run_on = std::move(run_on)](Status admitted) mutable {
          if (!admitted.ok()) return done(admitted);
          ctx.TrackAdmitted(std::move(event), rules, std::move(done), std::move(run_on));
        });
  }
  TrackAdmitted(std::move(event), rules, std::move(done), std::move(run_on));
}

void TenantContext::TrackAdmitted(store::TrackEvent event, const TenantRules& rules, TrackDone done,
                                  RunOn run_on) const {
  auto tenant = Store();
  if (!tenant.ok()) return done(tenant.status());
  std::vector<store::TrackEvent> events{event};
  const EventRules er = RulesFor(event, rules);
  // Serving told of the event, then the answer.
  auto answer = [ctx = *this, er, event = std::move(event), done = std::move(done)](
                    StatusOr<std::vector<store::TrackResult>> results) {
    if (!results.ok()) return done(results.status());
    store::TrackResult& r = results->at(0);
    if (r.status.ok() && !r.duplicate && !r.replayed) ctx.Tracked(event, er);
    done(std::move(r));
  };
  if (!run_on) {
    return (*tenant)->TrackAsync(std::move(events), std::move(answer), store::TenantStore::TrackDoneOn::kCallbackRunner);
  }
  // The writing thread only hands the answer to `run_on`.
  (*tenant)->TrackAsync(
      std::move(events),
      [run_on = std::move(run_on), answer = std::move(answer)](
          StatusOr<std::vector<store::TrackResult>> results) mutable {  // called once
        run_on([answer = std::move(answer), results = std::move(results)]() mutable { answer(std::move(results)); });
      },
      store::TenantStore::TrackDoneOn::kWriter);
}

StatusOr<std::vector<store::TrackResult>> TenantContext::Track(const std::vector<store::TrackEvent>& events,
                                                               const TenantRules& rules) const {
  if (s_->data_quotas) {
    RETURN_IF_ERROR(s_->data_quotas->AdmitTracked(tenant_id_, rules.limits, static_cast<int64_t>(events.size())));
  }
  ASSIGN_OR_RETURN(auto tenant, Store());
  ASSIGN_OR_RETURN(auto results, tenant->Track(events));
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].status.ok() && !results[i].duplicate && !results[i].replayed) {
      Tracked(events[i], RulesFor(events[i], rules));
    }
  }
  return results;
}

void TenantContext::Tracked(const store::TrackEvent& ev, const EventRules& rules) const {
  std::string category;
  std::optional<double> price;
  if (auto catalog = s_->catalog ? s_->catalog->Peek(tenant_id_) : nullptr) {
    if (const auto* item = catalog->Find(ev.item_id)) {
      category = item->category;
      price = item->price;
    }
  }
  if (s_->retrain) s_->retrain->DataChanged(tenant_id_);  // new interactions: looked at by its next pass
  if (s_->events) s_->events->MarkDirty(tenant_id_);      // its user-interactions event: published
  if (s_->analytics) {
    analytics::TrackedEvent a;
    a.user_id = ev.user_id;
    a.item_id = ev.item_id;
    a.type = ev.type;
    a.recommendation_id = ev.recommendation_id;
    a.context_json = ev.context_json;  // parsed by attribution, off the request's thread
    a.key_id = who_.key_id;
    // Windows are measured in the server's time (the answers are logged in it too).
    a.ts_ms = NowMillis();
    a.price = ev.value;
    a.quantity = ev.quantity;
    a.catalog_price = price;
    a.windows.click_ms = rules.click_window_ms;
    a.windows.conversion_ms = rules.conversion_window_ms;
    s_->analytics->Tracked(tenant_id_, std::move(a));
  }
  if (!s_->activity) return;
  s_->activity->Record(tenant_id_, ev, category, serving::Activity::ContextFields(ev.context_json),
                       rules.type_weight);
}

void TenantContext::SetUploadProgress(const std::string& id, const ingest::UploadProgress& p) const {
  if (s_->upload_progress) s_->upload_progress->Set(tenant_id_, id, p);
}

std::optional<ingest::UploadProgress> TenantContext::UploadProgressOf(const std::string& id) const {
  if (!s_->upload_progress) return std::nullopt;
  return s_->upload_progress->Get(tenant_id_, id);
}

bool TenantContext::RetrainRecommended() const {
  return s_->retrain != nullptr && s_->retrain->Recommended(tenant_id_);
}

StatusOr<training::Submitted> TenantContext::Train(const training::JobRequest& request) const {
  training::JobRequest r = request;
  r.started_by = who_.Describe();
  r.trigger_json = R"({"reason":"manual"})";
  return s_->training->Submit(tenant_id_, r);
}

StatusOr<std::string> TenantContext::JobProgress(const std::string& job_id) const {
  return s_->training->Progress(tenant_id_, job_id);
}

StatusOr<std::vector<std::string>> TenantContext::Jobs(int limit) const {
  return s_->training->List(tenant_id_, limit);
}

StatusOr<std::string> TenantContext::CancelJob(const std::string& job_id) const {
  return s_->training->Cancel(tenant_id_, job_id);
}

StatusOr<std::unique_ptr<training::Subscription>> TenantContext::WatchJob(
    const std::string& job_id, std::function<void(const std::string&, bool)> on_doc) const {
  return s_->training->Watch(tenant_id_, job_id, std::move(on_doc));
}

StatusOr<std::vector<store::ModelVersionRecord>> TenantContext::Versions() const {
  ASSIGN_OR_RETURN(auto store, Store());
  return store->training().ListVersions();
}

std::shared_ptr<const serving::ServingModel> TenantContext::Deployed() const {
  return s_->deployed->Get(tenant_id_);
}

std::vector<serving::LiveVersion> TenantContext::LiveVersions() const {
  return s_->deployed->Live(tenant_id_);
}

std::optional<std::string> TenantContext::ModelProblem() const {
  auto problems = s_->deployed->Problems();
  if (auto it = problems.find(tenant_id_); it != problems.end()) return it->second;
  return std::nullopt;
}

std::string TenantContext::BlobLocation(const std::string& key) const {
  return s_->training->registry().Location(tenant_id_, key);
}

StatusOr<store::ModelVersionRecord> TenantContext::DeployVersion(const std::string& version,
                                                                 const std::string& reason) const {
  ASSIGN_OR_RETURN(auto store, Store());
  return s_->training->registry().Deploy(tenant_id_, *store, version, reason);
}

Status TenantContext::SetTraffic(const std::vector<std::pair<std::string, double>>& split) const {
  ASSIGN_OR_RETURN(auto store, Store());
  return s_->training->registry().SetTraffic(tenant_id_, *store, split);
}

Status TenantContext::DeleteVersion(const std::string& version) const {
  ASSIGN_OR_RETURN(auto store, Store());
  return s_->training->registry().Delete(tenant_id_, *store, version);
}

StatusOr<serving::Served> TenantContext::Recommend(
    serving::RecommendRequest request, const serving::CachePolicy& cache,
    const std::function<std::string(const serving::RecommendResult&)>& render) const {
  request.tenant_id = tenant_id_;
  std::optional<experiments::Assignment> arm;
  if (s_->experiments && request.model_version.empty() && !request.user_id.empty()) {
    arm = s_->experiments->Assign(tenant_id_, request.user_id);
    if (arm) {
      request.model_version = arm->model_version;
      request.experiment_id = arm->experiment_id;
      request.arm = arm->arm;
      // A strategy arm: its own rules (none when its set is empty).
      if (arm->merchandising) request.merchandising = arm->merchandising->empty() ? nullptr : arm->merchandising;
    }
  }
  // An arm's answers are cached apart from the same user's outside the
  // experiment (the policy is copied only then: not on every request).
  std::optional<serving::CachePolicy> arm_policy;
  if (arm) {
    arm_policy = cache;
    arm_policy->request_key += '\n' + arm->experiment_id + '/' + arm->arm;
  }
  const auto started = std::chrono::steady_clock::now();
  auto served = s_->recommendations->Recommend(request, arm_policy ? *arm_policy : cache, render);
  if (arm) {
    // The arm's health (guardrails): its answers' time, and its failures.
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    const bool failed = !served.ok() && (served.status().code() == StatusCode::kInternal ||
                                         served.status().code() == StatusCode::kUnavailable);
    experiments::ExperimentService::Observe(*arm, ms, failed);
  }
  if (!served.ok()) return served.status();
  if (s_->analytics) {
    const analytics::Analytics::Arm in_arm{served->experiment_id, served->arm};
    s_->analytics->Served(tenant_id_, who_.key_id, "recommendations", served->result.model_version,
                          served->shown_items, served->cached, request.user_id,
                          served->experiment_id.empty() ? nullptr : &in_arm);
  }
  return served;
}

namespace {
StatusOr<experiments::ExperimentService*> ExperimentsOf(const TenantServices* s) {
  if (!s->experiments) return Status::Unavailable("experiments are not enabled on this platform");
  return s->experiments;
}
}  // namespace

StatusOr<experiments::Experiment> TenantContext::CreateExperiment(experiments::ExperimentSpec spec) const {
  ASSIGN_OR_RETURN(auto* e, ExperimentsOf(s_));
  spec.started_by = who_.Describe();
  return e->Create(tenant_id_, std::move(spec));
}

StatusOr<std::vector<experiments::Experiment>> TenantContext::Experiments(int limit) const {
  ASSIGN_OR_RETURN(auto* e, ExperimentsOf(s_));
  return e->List(tenant_id_, limit);
}

StatusOr<experiments::Experiment> TenantContext::GetExperiment(const std::string& experiment_id) const {
  ASSIGN_OR_RETURN(auto* e, ExperimentsOf(s_));
  return e->Get(tenant_id_, experiment_id);
}

StatusOr<experiments::Experiment> TenantContext::PromoteExperiment(const std::string& experiment_id) const {
  ASSIGN_OR_RETURN(auto* e, ExperimentsOf(s_));
  return e->Promote(tenant_id_, experiment_id, who_.Describe());
}

StatusOr<experiments::Experiment> TenantContext::AbortExperiment(const std::string& experiment_id) const {
  ASSIGN_OR_RETURN(auto* e, ExperimentsOf(s_));
  return e->Abort(tenant_id_, experiment_id, who_.Describe());
}

StatusOr<serving::ServedSimilar> TenantContext::Similar(const std::string& item_id, int count,
                                                        const serving::Filters& filters) const {
  ASSIGN_OR_RETURN(serving::ServedSimilar served, s_->recommendations->Similar(tenant_id_, item_id, count, filters));
  if (s_->analytics) {
    s_->analytics->Served(tenant_id_, who_.key_id, "similar", served.result.model_version, served.shown_items,
                          false);
  }
  return served;
}

StatusOr<serving::Served> TenantContext::Popular(int count, const serving::Filters& filters) const {
  ASSIGN_OR_RETURN(serving::Served served, s_->recommendations->Popular(tenant_id_, count, filters));
  if (s_->analytics) {
    s_->analytics->Served(tenant_id_, who_.key_id, "popular", served.result.model_version, served.shown_items,
                          false);
  }
  return served;
}

StatusOr<store::RecommendationRecord> TenantContext::Logged(const std::string& recommendation_id) const {
  return s_->recommendations->Logged(tenant_id_, recommendation_id);
}

void TenantContext::CountRequest(const char* endpoint, double seconds) const {
  s_->metrics->Inc("embedrec_recommendation_requests_total", {{"tenant", tenant_id_}, {"endpoint", endpoint}});
  s_->metrics->Inc("embedrec_recommendation_seconds_total", {{"tenant", tenant_id_}, {"endpoint", endpoint}},
                   seconds);
}

}  // namespace embedrec::api
