// The tenant a request acts on, and everything a tenant-scoped handler can
// reach.
//
// Isolation by construction: TenantRoutes (api/tenant_routes.h)
// authenticates the caller, checks its permissions and resolves the tenant once (a tenant's credential acts on
// its own tenant only; the platform admin names one), then hands the handler
// a TenantContext. Every method of the context acts on that one tenant. The
// services behind it take tenant ids, but no handler holds them: a handler
// has no way to name another tenant's store, models or keys.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/tenant_settings.h"
#include "tenants/quotas.h"
#include "auth/principal.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "ingest/data_quality.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"

namespace embedrec::auth {
class Authenticator;
}
namespace embedrec::training {
class RetrainScheduler;
class TrainingService;
class Subscription;
struct JobRequest;
struct Submitted;
}
namespace embedrec::ingest {
class IngestService;
class UploadProgressBoard;
struct UploadProgress;
struct UploadSource;
enum class ItemsMode;
}
namespace embedrec::serving {
class Activity;
class CatalogCache;
class DeployedModels;
class Recommender;
class RecommendationService;
struct CachePolicy;
struct Filters;
struct LiveVersion;
struct RecommendRequest;
struct RecommendResult;
struct Served;
struct ServedSimilar;
struct ServingModel;
}
namespace embedrec::store {
struct RecommendationRecord;
}
namespace embedrec::analytics {
class Analytics;
}
namespace embedrec::limits {
class LimitStore;
}
namespace embedrec::events {
class EventRelay;
}
namespace embedrec::experiments {
class ExperimentService;
struct Experiment;
struct ExperimentSpec;
}

namespace embedrec::api {

// The platform's tenant-addressed services, owned by the app. Only
// TenantContext calls them, always with its own tenant's id.
struct TenantServices {
  store::TenantStores* stores = nullptr;
  store::ControlStore* control = nullptr;        // the tenant's record, users and keys
  auth::Authenticator* authenticator = nullptr;  // cached credentials
  TenantSettingsCache* settings = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  ingest::IngestService* ingest = nullptr;                    // uploads
  ingest::DataQuality* data_quality = nullptr;                // counts behind the data-quality report
  training::TrainingService* training = nullptr;              // jobs and the model registry
  training::RetrainScheduler* retrain = nullptr;              // automatic retraining (may be null)
  serving::DeployedModels* deployed = nullptr;                // the live model versions
  serving::Recommender* recommender = nullptr;                // popular items, warmth
  serving::RecommendationService* recommendations = nullptr;  // cached, logged answers
  serving::Activity* activity = nullptr;                      // real-time profiles and trending
  serving::CatalogCache* catalog = nullptr;                   // catalog snapshots
  analytics::Analytics* analytics = nullptr;                  // calls, answers, attribution (may be null)
  limits::LimitStore* limits = nullptr;  // the rate limits' buckets (may be null: no rate limits)
  events::EventRelay* events = nullptr;  // told of tracked events to publish (may be null)
  ingest::UploadProgressBoard* upload_progress = nullptr;  // X-Upload-Progress (may be null: not kept)
  tenants::DataQuotas* data_quotas = nullptr;         // uploads and tracked events against settings.limits (null: none)
  experiments::ExperimentService* experiments = nullptr;      // A/B tests between versions (may be null)
};

// Cheap to copy (a handler answering later keeps one). Methods block on I/O
// where the service behind them does.
class TenantContext {
 public:
  TenantContext(const TenantServices* services, auth::Principal who, std::string tenant_id);

  const auth::Principal& who() const { return who_; }
  const std::string& tenant_id() const { return tenant_id_; }
  int64_t NowMillis() const;
  // How far the tenant's upload that sent X-Upload-Progress: <id> is read.
  void SetUploadProgress(const std::string& id, const ingest::UploadProgress& p) const;
  std::optional<ingest::UploadProgress> UploadProgressOf(const std::string& id) const;

  // The tenant: its control record, its settings as rules, its database
  // (opened on first use; kNotFound once the tenant is deleted).
  StatusOr<store::TenantRecord> Record() const;
  StatusOr<TenantRules> Rules() const;
  StatusOr<std::shared_ptr<store::TenantStore>> Store() const;

  // Its users and API keys (records of other tenants are never returned).
  Status CreateUser(const store::UserRecord& user) const;  // REQUIRES: user.tenant_id is this tenant
  StatusOr<std::vector<store::UserRecord>> Users() const;
  Status CreateApiKey(const store::ApiKeyRecord& key) const;  // REQUIRES: key.tenant_id is this tenant
  StatusOr<std::vector<store::ApiKeyRecord>> ApiKeys() const;
  // Revokes at once: cached credentials are dropped. kNotFound for another tenant's key.
  Status RevokeApiKey(const std::string& key_id) const;

  // An upload may start (tenants/quotas.h): held while it runs; null when
  // no quotas are kept. Errors: 429 too_many_uploads, 403 *_quota_exceeded.
  StatusOr<std::unique_ptr<tenants::DataQuotas::Slot>> AdmitUpload() const;

  // Data in: uploads, catalog edits, tracked interactions.
  StatusOr<boost::json::object> UploadItems(ingest::UploadSource source, ingest::ItemsMode mode) const;
  // Interaction types beyond the standard ones come from the tenant's settings.
  StatusOr<boost::json::object> UploadInteractions(ingest::UploadSource source) const;
  // The counts behind the data-quality report (ingest/data_quality.h):
  // exact (as of the newest event), or what is kept, rescanned in the
  // background once older than `rescan_after_ms` and behind the data
  // (nullopt while a first count runs).
  StatusOr<ingest::CountedData> DataCounts() const;
  StatusOr<std::optional<ingest::CountedData>> RecentDataCounts(int64_t rescan_after_ms) const;
  StatusOr<bool> PutItem(const store::ItemRecord& item) const;  // true: it existed (ingest/ingest_service.h)
  Status DeleteItem(const std::string& item_id) const;
  // Records interactions durably, then tells serving about each new one
  // (fold-in, trending, context lifts) and analytics (attribution) before
  // answering, so the next recommendation sees it.
  // TrackAsync answers once the event is durable: on the caller's thread
  // when it could be written at once, else through `run_on` (e.g. the
  // request's network thread: no worker woken for it) or, when that is
  // empty, on the workers; Track blocks.
  // `rules`: the tenant's, as the caller read them (each type's weight, the
  // attribution windows).
  using TrackDone = std::function<void(StatusOr<store::TrackResult>)>;
  using RunOn = std::function<void(std::function<void()>)>;
  void TrackAsync(store::TrackEvent event, const TenantRules& rules, TrackDone done, RunOn run_on = {}) const;
  StatusOr<std::vector<store::TrackResult>> Track(const std::vector<store::TrackEvent>& events,
                                                  const TenantRules& rules) const;

  // Training jobs. RetrainRecommended: the automatic retraining's last look
  // found one due (training/retrain_scheduler.h); never blocks.
  bool RetrainRecommended() const;
  StatusOr<training::Submitted> Train(const training::JobRequest& request) const;
  StatusOr<std::string> JobProgress(const std::string& job_id) const;
  StatusOr<std::vector<std::string>> Jobs(int limit) const;
  StatusOr<std::string> CancelJob(const std::string& job_id) const;
  // `on_doc` gets each progress document (final: the last); the job is
  // watched while the subscription lives.
  StatusOr<std::unique_ptr<training::Subscription>> WatchJob(
      const std::string& job_id, std::function<void(const std::string& doc, bool final)> on_doc) const;

  // Model versions.
  StatusOr<std::vector<store::ModelVersionRecord>> Versions() const;
  std::shared_ptr<const serving::ServingModel> Deployed() const;  // null: none
  std::vector<serving::LiveVersion> LiveVersions() const;
  std::optional<std::string> ModelProblem() const;  // a version that failed to load
  std::string BlobLocation(const std::string& key) const;  // where a model file lives, for people
  StatusOr<store::ModelVersionRecord> DeployVersion(const std::string& version,
                                                    const std::string& reason) const;
  Status SetTraffic(const std::vector<std::pair<std::string, double>>& split) const;
  Status DeleteVersion(const std::string& version) const;

  // Experiments between model versions (experiments/experiment_service.h);
  // kUnavailable when the platform runs without them. Created, promoted and
  // aborted in the caller's name.
  StatusOr<experiments::Experiment> CreateExperiment(experiments::ExperimentSpec spec) const;
  StatusOr<std::vector<experiments::Experiment>> Experiments(int limit) const;
  StatusOr<experiments::Experiment> GetExperiment(const std::string& experiment_id) const;
  StatusOr<experiments::Experiment> PromoteExperiment(const std::string& experiment_id) const;
  StatusOr<experiments::Experiment> AbortExperiment(const std::string& experiment_id) const;

  // Serving. `request.tenant_id` is set to this tenant's. Without a
  // model_version asked for, a user in a running experiment is answered by
  // the version of their arm (the answer names the arm).
  StatusOr<serving::Served> Recommend(serving::RecommendRequest request,
                                      const serving::CachePolicy& cache,
                                      const std::function<std::string(const serving::RecommendResult&)>&
                                          render) const;
  StatusOr<serving::ServedSimilar> Similar(const std::string& item_id, int count,
                                           const serving::Filters& filters) const;
  StatusOr<serving::Served> Popular(int count, const serving::Filters& filters) const;
  StatusOr<store::RecommendationRecord> Logged(const std::string& recommendation_id) const;
  // Counts a request per tenant and endpoint with its time.
  void CountRequest(const char* endpoint, double seconds) const;

  // Analytics: the tenant's figures over [from_ms, to_ms) (analytics/analytics.h).
  analytics::Analytics* Analytics() const { return s_->analytics; }

 private:
  const TenantServices* s_;
  auth::Principal who_;
  std::string tenant_id_;
  // Serving's view of a committed interaction. Never blocks: the item's
  // category comes from the catalog snapshot in memory, if any.
  struct EventRules {
    double type_weight;
    int64_t click_window_ms, conversion_window_ms;
  };
  static EventRules RulesFor(const store::TrackEvent& event, const TenantRules& rules);
  void Tracked(const store::TrackEvent& event, const EventRules& rules) const;
  // TrackAsync once the event is admitted against the tenant's limits.
  void TrackAdmitted(store::TrackEvent event, const TenantRules& rules, TrackDone done, RunOn run_on) const;
  // Counts an upload's accepted rows (its answer) for usage.
  void CountImported(const boost::json::object& upload) const;

  mutable std::shared_ptr<store::TenantStore> store_;
};

}  // namespace embedrec::api
