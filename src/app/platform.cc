#include "app/platform.h"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "analytics/analytics.h"
#include "api/call.h"
#include "common/json_text.h"
#include "common/file_util.h"
#include "common/random.h"
#include "app/backends.h"
#include "app/secrets.h"
#include "auth/api_key.h"
#include "auth/authenticator.h"
#include "blob/blob_store.h"
#include "auth/login_throttle.h"
#include "auth/session_service.h"
#include "common/metrics.h"
#include "common/fair_pool.h"
#include "common/memory.h"
#include "common/process_limits.h"
#include "http/dispatcher.h"
#include "ingest/data_quality.h"
#include "ingest/ingest_service.h"
#include "http/router.h"
#include "http/server.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"
#include "ml/blas_kernels.h"
#include "tenants/quotas.h"
#include "tenants/retention.h"
#include "tenants/tenant_service.h"
#include "serving/activity.h"
#include "serving/background.h"
#include "serving/catalog.h"
#include "serving/deployed_models.h"
#include "serving/recommendation_service.h"
#include "serving/tenant_memory.h"
#include "store/analytics_store.h"
#include "store/recommendation_log.h"
#include "common/id_source.h"
#include "events/event_relay.h"
#include "experiments/experiment_service.h"
#include "training/retrain_scheduler.h"
#include "training/training_service.h"

namespace embedrec::app {
namespace fs = std::filesystem;

namespace {

class PlatformImpl final : public Platform {
 public:
  explicit PlatformImpl(ServeConfig config) : config_(std::move(config)) {}
  ~PlatformImpl() override { Shutdown(); }

  Status Init() {
    if (config_.test_clock) {
      test_clock_ = std::make_unique<OffsetClock>(RealClock(), config_.clock_offset_seconds * 1000);
      clock_ = test_clock_.get();
      spdlog::warn("test clock: the platform admin may move this server's time forward (offset {} s)",
                   config_.clock_offset_seconds);
    }
    std::error_code ec;
    fs::create_directories(fs::path(config_.data_dir) / "tenants", ec);
    if (ec) return Status::Internal("cannot create data dir " + config_.data_dir + ": " + ec.message());
    // The data dir is its owner's only (databases, uploads, models, secrets).
    fs::permissions(config_.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) spdlog::warn("the data dir {} is not restricted to its owner: {}", config_.data_dir, ec.message());
    ec.clear();
    config_.data_dir = fs::canonical(config_.data_dir).string();

    ASSIGN_OR_RETURN(control_, OpenControlStore(config_));
    node_ = NodeName();
    // Tracking's answers (serving's update and the reply) that a caller did
    // not ask for on the writing thread (TrackDoneOn::kWriter: the HTTP route
    // posts them to the request's network thread) run on the workers, in the
    // tenant's queue: the store's committer thread only writes.
    ASSIGN_OR_RETURN(tenants_, OpenTenantStores(config_, clock_,
                                                [this](const std::string& tenant_id, std::function<void()> callback) {
                                                  if (FairThreadPool* w = callback_pool_.load()) {
                                                    w->Post(tenant_id, std::move(callback));
                                                  } else {
                                                    callback();  // before the pools start, or after they stop
                                                  }
                                                },
                                                node_));
    // Tenants' events also published (Kafka): the relay reads their logs.
    ASSIGN_OR_RETURN(publisher_, OpenEventPublisher(config_));
    if (publisher_) {
      store::ControlStore* control = control_.get();
      relay_ = std::make_unique<events::EventRelay>(
          tenants_.get(),
          [control]() -> StatusOr<std::vector<std::string>> {
            std::vector<std::string> ids;
            std::string cursor;
            while (true) {
              ASSIGN_OR_RETURN(auto page, control->ListTenants(cursor, 500));
              for (const auto& t : page.tenants) ids.push_back(t.id);
              if (!page.next_cursor) return ids;
              cursor = *page.next_cursor;
            }
          },
          publisher_.get(), clock_);
    }
    events::EventRelay* relay = relay_.get();
    if (relay) {
      metrics_.DeclareGaugeFunction("embedrec_events_published", "Tenants' events published to Kafka since start",
                                    [relay] { return static_cast<double>(relay->published()); });
    }
    ASSIGN_OR_RETURN(std::string admin_hash,
                     ResolveAdminTokenHash(control_.get(), config_.data_dir, config_.admin_token));
    const bool shared = SharedControlStore(config_);
    ASSIGN_OR_RETURN(auth::JwtKeyRing ring,
                     ResolveJwtKeys(control_.get(), shared, config_.data_dir, config_.jwt_secret,
                                    config_.jwt_previous_secrets, clock_->NowSeconds()));
    auto jwt_keys = std::make_shared<auth::JwtKeys>(std::move(ring));
    // Another node's rotation, read back: when a token names a key not known
    // here, and before signing (at most every 30 s).
    std::function<void()> reload_keys;
    if (config_.jwt_secret.empty()) {
      reload_keys = [control = control_.get(), shared, dir = config_.data_dir, jwt_keys] {
        auto stored = ReadJwtKeys(control, shared, dir);
        if (stored.ok()) jwt_keys->Set(std::move(stored).value());
      };
    }

    ASSIGN_OR_RETURN(limits_, OpenLimitStore(config_));
    throttle_ = std::make_unique<auth::LoginThrottle>(clock_, auth::LoginThrottle::Options{}, limits_.get());
    auth::Authenticator::Options authn_options;
    authn_options.jwt_keys = jwt_keys;
    authn_options.admin_token_hash = admin_hash;
    authn_options.reload_jwt_keys = reload_keys;
    authn_options.reload_admin_token_hash = [control = control_.get()]() -> std::optional<std::string> {
      auto stored = StoredAdminTokenHash(control);
      return stored.ok() ? *stored : std::nullopt;
    };
    authenticator_ = std::make_unique<auth::Authenticator>(control_.get(), clock_, std::move(authn_options));
    auth::SessionService::Options session_options;
    session_options.jwt_keys = jwt_keys;
    session_options.reload_jwt_keys = reload_keys;
    // A login ended: every node forgets what it cached (its access tokens are refused from then on).
    session_options.on_revoked = [a = authenticator_.get()] { a->Invalidate(); };
    sessions_ = std::make_unique<auth::SessionService>(control_.get(), clock_, throttle_.get(),
                                                       std::move(session_options));

    ASSIGN_OR_RETURN(const tenants::TenantLimits default_limits, DefaultTenantLimits(config_));
    settings_ = std::make_unique<api::TenantSettingsCache>(control_.get(), clock_, 5000, default_limits);
    api::PlatformDeps& platform = deps_.platform;
    platform.default_limits = default_limits;
    if (config_.jwt_secret.empty()) {
      platform.rotate_jwt_keys = [this, shared, jwt_keys](const std::string& reason) -> StatusOr<auth::JwtKeyRing> {
        ASSIGN_OR_RETURN(auto rotated, RotateJwtKeys(control_.get(), shared, config_.data_dir, clock_->NowSeconds()));
        jwt_keys->Set(rotated);
        spdlog::info("rotated the access tokens' signing key: {} signs from now on (reason: {})",
                     rotated.current().kid, reason.empty() ? "none given" : reason);
        return rotated;
      };
    }
    if (config_.admin_token.empty()) {
      platform.rotate_admin_token = [this](const std::string& reason) -> StatusOr<std::string> {
        ASSIGN_OR_RETURN(std::string token, RotateAdminToken(control_.get(), config_.data_dir));
        authenticator_->SetAdminTokenHash(auth::HashSecret(token));
        spdlog::info("rotated the platform admin token (the new one is in {}/admin-token; reason: {})",
                     config_.data_dir, reason.empty() ? "none given" : reason);
        return token;
      };
    }
    platform.control = control_.get();
    platform.authenticator = authenticator_.get();
    platform.sessions = sessions_.get();
    platform.clock = clock_;
    platform.test_clock = test_clock_.get();
    platform.web_dir = !config_.web_dir.empty() ? config_.web_dir : ExecutableDir() + "/web";
    platform.metrics = &metrics_;
    store::TenantStores* tenant_stores = tenants_.get();
    platform.ping_tenant_spaces = [tenant_stores] { return tenant_stores->Ping(); };
    platform.model_problems = [this] { return deployed_.Problems(); };
    api::TenantServices& services = deps_.tenant;
    services.stores = tenants_.get();
    services.control = control_.get();
    services.authenticator = authenticator_.get();
    services.settings = settings_.get();
    services.limits = limits_.get();
    ASSIGN_OR_RETURN(upload_progress_, OpenUploadProgress(config_, clock_));
    services.upload_progress = upload_progress_.get();
    services.events = relay;
    services.clock = clock_;
    services.metrics = &metrics_;
    deps_.max_upload_bytes = config_.max_upload_bytes;
    ASSIGN_OR_RETURN(blobs_, OpenTenantBlobs(config_, tenants_.get()));
    blob::TenantBlobStores* blobs = blobs_.get();
    auto open_blobs = [blobs](const std::string& tid) { return blobs->Open(tid); };
    training::ServiceOptions topts;
    topts.workers = config_.training_workers;
    topts.threads_per_job = config_.training_threads;
    topts.priority = *ParseBackgroundPriority(config_.training_priority);  // checked by the config
    // At idle priority a job also stands aside while requests wait for a
    // worker (common/step_aside.h); a niceness keeps its share whatever the load.
    if (topts.priority.idle) {
      topts.requests_waiting = [this] {
        FairThreadPool* w = callback_pool_.load();
        return w != nullptr && w->DelayedWithin(std::chrono::milliseconds(10));
      };
    }
    topts.registry.keep_versions = config_.keep_model_versions;
    topts.registry.min_age_days = config_.model_min_age_days;
    topts.registry.index.exact_max_items = config_.exact_search_max_items;
    if (relay) topts.registry.deployed = [relay](const std::string& tid) { relay->MarkDirty(tid); };
    // Nodes sharing the stores take jobs from one queue (those with the ml role).
    ASSIGN_OR_RETURN(job_queue_, OpenJobQueue(config_));
    if (job_queue_) {
      topts.queue = job_queue_.get();
      topts.node = node_;
      topts.takes_jobs = Serves("ml");
      topts.job_lease_ms = int64_t{config_.job_lease_seconds} * 1000;
      spdlog::info("training jobs from the shared queue as node {}{}", topts.node,
                   topts.takes_jobs ? "" : " (submitted only: no ml role)");
    }
    topts.training_minutes_per_day = [settings = settings_.get()](const std::string& tid) {
      auto rules = settings->Rules(tid);
      return rules.ok() ? rules->limits.training_minutes_per_day : settings->default_limits().training_minutes_per_day;
    };
    topts.job_ran = [this](const std::string& tid, double seconds) {
      if (analytics_) analytics_->Trained(tid, seconds);  // created before any job runs
    };
    // A version the gate passes enters an experiment waiting for it, or (a
    // scheduled run, unless the tenant set retrain_experiment false) a new one.
    topts.enter_experiment = [this](const std::string& tid, const std::string& version,
                                    bool scheduled) -> StatusOr<std::optional<std::string>> {
      if (!experiments_) return std::optional<std::string>();  // created before any job runs
      if (scheduled) {
        ASSIGN_OR_RETURN(auto t, control_->GetTenant(tid));
        auto settings = training::ParseRetrainSettings(ParseJsonObject(t.settings_json));
        scheduled = settings.ok() && settings->experiment;
      }
      return experiments_->EnterChallenger(tid, version, scheduled);
    };
    training_ = training::NewTrainingService(tenants_.get(), open_blobs, &deployed_,
                                             clock_, topts);
    services.training = training_.get();
    services.deployed = &deployed_;
    // Served models are read on a tenant's first request and dropped, least
    // recently used first, beyond the memory budget.
    {
      training::ModelRegistry* registry = &training_->registry();
      store::TenantStores* stores = tenants_.get();
      deployed_.SetLoader(
          [registry, stores](const std::string& tid) -> StatusOr<serving::DeployedModels::Loaded> {
            ASSIGN_OR_RETURN(auto store, stores->Open(tid));
            return registry->ReadDeployed(tid, *store);
          },
          ServingMemoryBudget(config_));
      auto gauge = [this](std::string name, std::string help, int64_t serving::DeployedModels::Residency::*f) {
        metrics_.DeclareGaugeFunction(std::move(name), std::move(help),
                                      [this, f] { return static_cast<double>(deployed_.residency().*f); });
      };
      using R = serving::DeployedModels::Residency;
      gauge("embedrec_models_resident_tenants", "Tenants whose served models are in memory", &R::tenants);
      gauge("embedrec_models_resident_bytes", "Memory held by the served models (estimated)", &R::bytes);
      gauge("embedrec_models_memory_budget_bytes", "The served models' memory budget", &R::budget);
      gauge("embedrec_model_loads", "Tenants' models read from storage since start (lazily, on first use)",
            &R::loads);
      gauge("embedrec_model_evictions", "Tenants' models dropped to stay within the budget since start",
            &R::evictions);
      metrics_.DeclareGaugeFunction("embedrec_tenant_databases_open",
                                    "Tenant databases open (an idle one is closed, reopened on use)",
                                    [stores] { return static_cast<double>(stores->OpenCount()); });
    }
    catalog_ = std::make_unique<serving::CatalogCache>(clock_);
    api::TenantSettingsCache* settings = settings_.get();
    activity_ = std::make_unique<serving::Activity>(clock_, [settings](const std::string& tid) {
      auto rules = settings->Rules(tid);
      return rules.ok() ? rules->weights : interactions::TypeWeights();
    });
    recommender_ = std::make_unique<serving::Recommender>(&deployed_, catalog_.get(), activity_.get(),
                                                          tenants_.get());
    WireMemoryBudget();
    if (config_.recommendation_log_days > 0) {
      store::RecommendationLogOptions lo;
      lo.retention_days = config_.recommendation_log_days;
      ASSIGN_OR_RETURN(rec_log_, OpenRecommendationLog(config_, clock_, lo));
      store::RecommendationLog* log = rec_log_.get();
      metrics_.DeclareGaugeFunction("embedrec_recommendation_log_dropped",
                                    "Answers the recommendation log could not keep (its queue full, a write failed)",
                                    [log] { return static_cast<double>(log->dropped()); });
      metrics_.DeclareGaugeFunction(
          "embedrec_recommendation_log_resident_bytes",
          "Memory held to find users' recent answers for attribution (embedded log; estimated)",
          [log] { return static_cast<double>(log->resident_bytes()); });
      // Counted per tenant with serving's memory, under its budget.
      serving::TenantMemory* memory = memory_.get();
      log->SetResidentReport([memory](const std::string& tenant_id, int64_t bytes) {
        memory->Set(tenant_id, serving::TenantMemory::Part::kLog, bytes);
      });
    }
    recommendations_ = std::make_unique<serving::RecommendationService>(
        recommender_.get(), rec_log_.get(), clock_, RandomIds(), &metrics_);
    if (config_.analytics) {
      ASSIGN_OR_RETURN(analytics_store_, OpenAnalyticsStore(config_));
      analytics::AnalyticsOptions ao;
      // Other nodes log answers too: users they answered are looked up in the log.
      ao.shared_log = SharedControlStore(config_);
      ao.storage_bytes = [this](const std::string& tid) { return TenantDiskBytes(tid); };
      analytics_ = std::make_unique<analytics::Analytics>(analytics_store_.get(), rec_log_.get(), clock_, ao);
      services.analytics = analytics_.get();
      platform.analytics = analytics_.get();
      analytics::Analytics* a = analytics_.get();
      metrics_.DeclareGaugeFunction("embedrec_analytics_dropped_events",
                                    "Tracked events not attributed because analytics' queue was full",
                                    [a] { return static_cast<double>(a->dropped_events()); });
      metrics_.DeclareGaugeFunction("embedrec_analytics_failed_batches",
                                    "Analytics batches that could not be written (a tenant deleted meanwhile, a full disk)",
                                    [a] { return static_cast<double>(a->failed_batches()); });
    }
    {
      // Experiments between versions: their figures from analytics, their
      // splits and promotions through the model registry.
      experiments::ExperimentDeps ed;
      ed.stores = tenants_.get();
      ed.clock = clock_;
      ed.ids = RandomIds();
      analytics::Analytics* a = analytics_.get();
      ed.arms = [a](const std::string& tid,
                    const std::string& id) -> StatusOr<std::map<std::string, store::ArmSums>> {
        if (!a) return std::map<std::string, store::ArmSums>();
        return a->ExperimentArms(tid, id);
      };
      training::ModelRegistry* registry = &training_->registry();
      store::TenantStores* stores = tenants_.get();
      ed.split = [registry, stores](const std::string& tid, const std::string& control, const std::string& challenger,
                                    double share) -> Status {
        ASSIGN_OR_RETURN(auto store, stores->Open(tid));
        training::ModelRegistry::Split split{{control, 1.0}};
        if (share > 0 && challenger != control) split = {{control, 1 - share}, {challenger, share}};
        return registry->SetTraffic(tid, *store, split);
      };
      ed.deploy = [registry, stores](const std::string& tid, const std::string& version,
                                     const std::string& reason) -> Status {
        ASSIGN_OR_RETURN(auto store, stores->Open(tid));
        return registry->Deploy(tid, *store, version, reason).status();
      };
      ed.apply_settings = [this](const std::string& tid, const boost::json::object& settings) -> Status {
        tenants::TenantChange change;
        change.settings_patch = settings;
        return tenant_service_->Change(tid, change).status();
      };
      experiments::ExperimentOptions eo;
      eo.check_interval_ms = int64_t{config_.experiment_check_seconds} * 1000;
      experiments_ = std::make_unique<experiments::ExperimentService>(std::move(ed), eo);
      services.experiments = experiments_.get();
    }
    if (config_.retrain_check_seconds > 0) {
      // Automatic retraining: its own thread; what it reads of analytics is the
      // deployed version's click-through.
      training::RetrainDeps rd;
      rd.training = training_.get();
      rd.stores = tenants_.get();
      rd.clock = clock_;
      rd.settings_json = [this](const std::string& tid) -> StatusOr<std::string> {
        ASSIGN_OR_RETURN(auto t, control_->GetTenant(tid));
        return t.settings_json;
      };
      if (analytics::Analytics* a = analytics_.get()) {
        rd.rate = [a](const std::string& tid, const std::string& version, int64_t from,
                      int64_t to) -> StatusOr<training::OnlineRate> {
          ASSIGN_OR_RETURN(auto report, a->Summarize(tid, from, to));
          auto it = report.by_model_version.find(version);
          if (it == report.by_model_version.end()) return training::OnlineRate{};
          return training::OnlineRate{it->second.impressions(), it->second.clicks};
        };
      }
      rd.experimenting = [e = experiments_.get()](const std::string& tid) { return e->Running(tid); };
      training::RetrainOptions ro;
      ro.check_interval_ms = int64_t{config_.retrain_check_seconds} * 1000;
      ro.min_gap_ms = int64_t{config_.retrain_min_gap_seconds} * 1000;
      retrain_ = std::make_unique<training::RetrainScheduler>(std::move(rd), ro);
      services.retrain = retrain_.get();
      training::RetrainScheduler* r = retrain_.get();
      metrics_.DeclareGaugeFunction("embedrec_retrain_passes", "Automatic retraining's passes over the tenants",
                                    [r] { return static_cast<double>(r->passes()); });
    }
    services.recommendations = recommendations_.get();
    services.catalog = catalog_.get();
    services.activity = activity_.get();
    services.recommender = recommender_.get();
    serving::CatalogCache* catalog = catalog_.get();
    serving::Activity* activity = activity_.get();
    // The counts behind data-quality reports: counted again in the refresh
    // lane (below) after an upload, and when a dashboard finds them behind.
    data_quality_ = std::make_unique<ingest::DataQuality>(tenants_.get(), clock_, RefreshLane());
    services.data_quality = data_quality_.get();
    ingest::DataQuality* quality = data_quality_.get();
    ingest_ = std::make_unique<ingest::IngestService>(ingest::IngestOptions{
        .tenants = tenants_.get(),
        .open_blobs = open_blobs,
        .clock = clock_,
        .spill_dir = config_.data_dir + "/tmp",
        .data_changed = [catalog, activity, quality, retrain = retrain_.get(), relay](const std::string& tid) {
          catalog->Invalidate(tid);  // serving reads the new catalog and history from now on
          activity->DataChanged(tid);
          quality->Refresh(tid);
          if (retrain) retrain->DataChanged(tid);
          if (relay) relay->MarkDirty(tid);
        },
        .item_changed = [catalog, relay](const std::string& tid) {
          catalog->Invalidate(tid);
          if (relay) relay->MarkDirty(tid);
        }});
    services.ingest = ingest_.get();
    // Uploads admitted against the tenants' limits (settings.limits).
    data_quotas_ = std::make_unique<tenants::DataQuotas>(tenants::DataQuotas::Options{
        .storage_bytes = [this](const std::string& tid) -> StatusOr<int64_t> { return TenantDiskBytes(tid); },
        .rows = [this](const std::string& tid) { return data_quality_->StoredRows(tid); },
        .clock = clock_,
        .background = RefreshLane()});  // tracked events never wait for a read
    services.data_quotas = data_quotas_.get();
    tenant_service_ = std::make_unique<tenants::TenantService>(control_.get(), tenants_.get(), blobs_.get(), clock_);
    {
      // Event logs and idempotency keys pruned in the background (unpublished events stay).
      tenants::RetentionOptions ro;
      ro.event_days = config_.event_retention_days;
      ro.idempotency_hours = config_.idempotency_retention_hours;
      ro.archive_days = config_.upload_archive_days;
      ro.open_blobs = [b = blobs_.get()](const std::string& tid) { return b->Open(tid); };
      ro.remove_abandoned_blobs = [b = blobs_.get()](int64_t before_ms) { return b->RemoveAbandoned(before_ms); };
      // One node's passes at a time (the lease outlives one interval: the
      // holder renews it at its next pass; a stopped holder's runs out).
      ro.take_turn = [control = control_.get(), clock = clock_, node = node_, interval = ro.interval_ms] {
        auto mine = control->TakeLease("retention", node, clock->NowMillis(), interval + interval / 2);
        if (!mine.ok()) spdlog::warn("retention: cannot take its lease: {}", mine.status().ToString());
        return mine.ok() && *mine;
      };
      if (relay_) ro.published_through = [](store::TenantStore& s) { return events::PublishedThrough(s); };
      retention_ = std::make_unique<tenants::Retention>(control_.get(), tenants_.get(), clock_, std::move(ro));
    }
    WireTenantHooks();
    platform.tenant_service = tenant_service_.get();
    RETURN_IF_ERROR(RecoverTenants());
    api::RegisterAllRoutes(router_, deps_);

    int cores = std::max(1u, std::thread::hardware_concurrency());
    // On a database server a worker waits on round trips (a user's first
    // request, tracking's groups, Redis batches): twice as many, measured
    // (docs/benchmarks.md, "More workers when they wait on PostgreSQL").
    const int per_core = SharedControlStore(config_) ? 4 : 2;
    int workers = config_.worker_threads > 0 ? config_.worker_threads : std::max(2 * per_core, per_core * cores);
    // One tenant may run on all but one worker: the rest of the pool always
    // serves the other tenants (see common/fair_pool.h).
    workers_ = std::make_unique<FairThreadPool>(workers, std::max(1, workers - 1));
    callback_pool_ = workers_.get();
    // Slow work (reports, scans, model loads, uploads, a tenant's first
    // requests) has a pool of its own: one request per tenant at a time, at a
    // lower CPU priority, so it never holds the workers above (http/router.h).
    slow_lane_ = std::make_unique<FairThreadPool>(std::max(4, 2 * cores), 1, /*nice=*/10);
    refresh_pool_ = slow_lane_.get();
    // Expired catalogs and popularity are re-read there too, one at a time
    // per tenant, beside (not behind) the tenant's slow requests, and a cold
    // tenant's models are read there while its first request reads the rest.
    serving::Background refresh = RefreshLane();
    catalog_->SetBackground(refresh);
    activity_->SetBackground(refresh);
    recommender_->SetBackground(refresh);
    // Uploads wait on their client's network as much as on the CPU: a pool
    // of their own, two per tenant at a time, at the slow lane's priority.
    streams_ = std::make_unique<FairThreadPool>(std::max(8, 4 * cores), 2, /*nice=*/10);
    auth::Authenticator* authn = authenticator_.get();
    dispatcher_ = std::make_unique<http::Dispatcher>(
        &router_, http::Dispatcher::Pools{workers_.get(), slow_lane_.get(), streams_.get()}, &metrics_,
        http::Dispatcher::Options{
            .default_body_limit = config_.max_body_bytes,
            .queue_key = [authn](const http::Request& req) {
              return authn->CachedTenant(req.Header("authorization"));
            },
            .max_in_flight_per_key = config_.max_in_flight_per_tenant,
            .slow_request = std::chrono::milliseconds(config_.slow_request_ms)});

    http::ServerOptions so;
    so.bind = config_.bind;
    so.threads = config_.http_threads > 0 ? config_.http_threads : cores;
    so.idle_timeout = std::chrono::seconds(config_.idle_timeout_seconds);
    so.read_timeout = so.write_timeout = std::chrono::seconds(config_.request_timeout_seconds);
    so.stall_warning = std::chrono::milliseconds(config_.stall_warning_ms);
    auto serves = [&](const char* r) { return Serves(r); };
    if (serves("gateway")) so.listeners.push_back({"gateway", config_.gateway_port});
    if (serves("ml")) so.listeners.push_back({"ml", config_.ml_port});
    if (serves("pipeline")) so.listeners.push_back({"pipeline", config_.pipeline_port});
    if (so.listeners.empty()) return Status::InvalidArgument("no role to serve");
    ASSIGN_OR_RETURN(server_, http::StartServer(so, dispatcher_.get()));
    metrics_.DeclareCounterFunction("embedrec_http_network_thread_stalls_total",
                                  "Times a network thread was found running nothing for the stall warning's time "
                                  "(since start; each logged with the thread's stack).",
                                  [s = server_.get()] { return static_cast<double>(s->stalls()); });

    auto ports = server_->ports();
    std::string port_json = "{";
    for (size_t i = 0; i < ports.size(); ++i) {
      spdlog::info("serving {} on http://{}:{}", so.listeners[i].name, config_.bind, ports[i]);
      port_json += (i ? ",\"" : "\"") + so.listeners[i].name + "\":" + std::to_string(ports[i]);
    }
    port_json += "}\n";
    if (!config_.port_file.empty()) RETURN_IF_ERROR(WritePrivateFile(config_.port_file, port_json));
    if (retrain_) retrain_->Start();
    experiments_->Start();
    if (relay_) relay_->Start();
    retention_->Start();
    RETURN_IF_ERROR(SubscribeToOtherNodes());
    spdlog::info("embedrec ready; data in {}; OpenBLAS kernels {}", config_.data_dir, ml::BlasCoreName());
    return Status::Ok();
  }

  bool Serves(const char* role) const {
    return std::find(config_.roles.begin(), config_.roles.end(), role) != config_.roles.end();
  }
  // This process among the nodes (logs, the job queue): host, pid and a random suffix.
  static std::string NodeName() {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
    return std::string(host[0] ? host : "node") + "-" + std::to_string(getpid()) + "-" + RandomBase62(6);
  }

  std::vector<int> ports() const override { return server_ ? server_->ports() : std::vector<int>{}; }

  void Shutdown() override {
    if (down_) return;
    down_ = true;
    down_remote_ = true;
    if (subscriber_) subscriber_->Stop();  // no more of other nodes' events
    if (retention_) retention_->Stop();
    if (server_) {
      spdlog::info("shutting down: finishing {} in-flight requests", server_->in_flight());
      server_->Shutdown(std::chrono::seconds(config_.shutdown_grace_seconds));
    }
    callback_pool_ = nullptr;
    workers_.reset();  // runs what was queued, then joins
    refresh_pool_ = nullptr;
    slow_lane_.reset();
    streams_.reset();
    retrain_.reset();  // submits nothing more
    if (training_) training_->Shutdown();  // a running job ends as failed ("interrupted")
    experiments_.reset();  // decides nothing more (it deploys through training's registry)
    training_.reset();
    server_.reset();
    if (relay_) relay_->Stop();  // publishes what is waiting (stores still open)
    analytics_.reset();  // attributes and writes what is counted (reads the log)
    analytics_store_.reset();
    rec_log_.reset();  // writes what is queued
    tenants_.reset();
    control_.reset();
    spdlog::info("stopped");
  }

 private:
  // What the tenant's space holds on disk (its databases, uploads, models):
  // its directory, or (scale-out) its schema and its objects.
  int64_t TenantDiskBytes(const std::string& tid) {
    if (!SharedControlStore(config_)) return DirectoryBytes(config_.data_dir + "/tenants/" + tid);
    int64_t bytes = 0;
    if (auto store = tenants_->Open(tid); store.ok()) {
      if (auto db = (*store)->DatabaseBytes(); db.ok()) bytes += *db;
    }
    if (auto area = blobs_->Open(tid); area.ok()) {
      if (auto objects = (*area)->List(""); objects.ok()) {
        for (const auto& o : *objects) bytes += static_cast<int64_t>(o.size);
      }
    }
    return bytes;
  }

  // Background work per tenant (re-reads, recounts) in the slow lane, under a
  // "refresh:<tenant>" key of its own; dropped once the lane has stopped.
  serving::Background RefreshLane() {
    return [this](const std::string& tid, std::function<void()> task) {
      if (FairThreadPool* p = refresh_pool_.load()) p->Post("refresh:" + tid, std::move(task));
    };
  }

  // What the other modules do when a tenant changes or goes (tenants/tenant_service.h).
  void WireTenantHooks() {
    auth::Authenticator* authn = authenticator_.get();
    api::TenantSettingsCache* settings = settings_.get();
    training::TrainingService* training = training_.get();
    serving::DeployedModels* deployed = &deployed_;
    store::RecommendationLog* rec_log = rec_log_.get();
    tenant_service_->AddHooks({
        .stop = [this, training, rec_log](const std::string& id) {
          RETURN_IF_ERROR(training->StopTenant(id));
          if (analytics_) analytics_->Forget(id);
          return rec_log ? rec_log->DropTenant(id) : Status::Ok();
        },
        .changed = [this, authn, settings](const std::string& id) {
          authn->InvalidateHere();  // the status decides whether its credentials work
          settings->Invalidate(id);
          tenants_->Broadcast({id, store::RemoteChange::kTenant});  // other nodes do the same
        },
        .deleted = [this, deployed](const std::string& id) {
          if (retrain_) retrain_->Forget(id);
          experiments_->Forget(id);
          deployed->Set(id, nullptr);
          DropServingState(id);
          data_quality_->Forget(id);
          memory_->Forget(id);
        },
    });
    // A revoked key, a deactivated user: the other nodes drop their cached
    // credentials at once too (not after their cache's 30 s).
    authn->OnInvalidate([this] { tenants_->Broadcast({"*", store::RemoteChange::kCredentials}); });
    // Other nodes' changes (scale-out): what this node holds of the tenant
    // is read again on its next request.
    tenants_->OnRemoteChange([this, authn, settings](const store::RemoteChange& c) {
      if (down_remote_.load()) return;  // shutting down: what it would drop is going away
      switch (c.kind) {
        case store::RemoteChange::kModels:
          deployed_.Evict(c.tenant_id);
          break;
        case store::RemoteChange::kData:
          catalog_->Invalidate(c.tenant_id);
          activity_->DataChanged(c.tenant_id);
          break;
        case store::RemoteChange::kTenant:
          authn->InvalidateHere();
          settings->Invalidate(c.tenant_id);
          DropServingState(c.tenant_id);
          tenants_->CloseIfUnused(c.tenant_id);  // opened again (or found gone) on its next use
          break;
        case store::RemoteChange::kTracked:
          RemoteTracked(c.tenant_id, ParseJsonObject(c.event));
          break;
        case store::RemoteChange::kCredentials:
          authn->InvalidateHere();
          break;
      }
    });
    // An idle tenant (its database closed for being unused) keeps nothing in
    // memory: its catalog, trend state and models are read again on its next
    // request; what they held goes back to the system at once.
    tenants_->OnIdleClose([this, rec_log](const std::vector<std::string>& ids) {
      for (const auto& id : ids) {
        DropServingState(id);
        memory_->Forget(id);
        if (rec_log) rec_log->CloseTenant(id);
        if (analytics_) analytics_->Close(id);
      }
      ReturnFreedMemory();  // once per sweep
    });
  }

  // With Kafka and shared stores, other nodes' tracked interactions and
  // deploys come from the published events (their own NOTIFY is not sent):
  // each node reads every event, its own skipped.
  Status SubscribeToOtherNodes() {
    if (config_.events_url.empty() || !SharedControlStore(config_)) return Status::Ok();
    ASSIGN_OR_RETURN(subscriber_, events::OpenKafkaSubscriber(config_.events_url, node_));
    metrics_.DeclareGaugeFunction("embedrec_events_applied_from_kafka",
                                  "Interactions other nodes tracked, applied to this node's real-time state from Kafka",
                                  [this] { return static_cast<double>(applied_from_kafka_.load()); });
    return subscriber_->Start({"user-interactions", "model-deployed"}, [this](const events::ConsumedEvent& e) {
      if (down_remote_.load()) return;
      if (e.topic == "model-deployed") {
        // Read again on its next request (as after a NOTIFY), unless this
        // node serves that version alone already: its own deploy (every node
        // reads its own events too), or one it read since. (Each node read
        // its own deploys again from the blob store: a reload beside the
        // first requests after every training job.)
        const boost::json::object o = ParseJsonObject(e.payload);
        const auto* version = o.if_contains("model_version");
        if (version && version->is_string() && deployed_.ServesOnly(e.tenant_id, version->as_string())) return;
        deployed_.Evict(e.tenant_id);
        return;
      }
      const boost::json::object o = ParseJsonObject(e.payload);
      const auto* node = o.if_contains("node");
      if (node && node->is_string() && node->as_string() == node_) return;  // taken here
      applied_from_kafka_.fetch_add(1);
      RemoteTracked(e.tenant_id, o);
    });
  }

  // An interaction another node tracked: this node's real-time state (the
  // user's profile, popularity) takes it as the node that took it did, on
  // the tenant's worker queue (the weights may read settings).
  void RemoteTracked(const std::string& tenant_id, const boost::json::object& o) {
    auto str = [&o](const char* k) {
      const auto* v = o.if_contains(k);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    store::TrackEvent ev;
    ev.user_id = str("user_id");
    ev.item_id = str("item_id");
    ev.type = str("type");
    ev.context_json = str("context");
    if (auto ts = o.if_contains("ts_ms"); ts && ts->is_int64()) ev.ts_ms = ts->as_int64();
    if (ev.user_id.empty() || ev.type.empty()) return;
    auto record = [this, tid = tenant_id, ev = std::move(ev)] {
      std::string category;
      if (auto catalog = catalog_->Peek(tid)) {
        if (const auto* item = catalog->Find(ev.item_id)) category = item->category;
      }
      activity_->Record(tid, ev, category, serving::Activity::ContextFields(ev.context_json));
    };
    if (FairThreadPool* w = callback_pool_.load()) w->Post(tenant_id, std::move(record));
  }

  // What serving holds for a tenant, dropped from memory (read again on its
  // next request).
  void DropServingState(const std::string& id) {
    catalog_->Invalidate(id);
    activity_->Drop(id);
    deployed_.Evict(id);
    recommender_->Forget(id);
  }

  // Catalogs, popularity, profiles and the recommendation log's recent
  // answers (wired where the log is opened) count with the models against the
  // memory budget: beyond it the least recently used tenants are dropped
  // whole (as when idle), and read again on their next request.
  void WireMemoryBudget() {
    serving::DeployedModels* deployed = &deployed_;
    // A tenant dropped for the budget holds nothing any more, as an idle one:
    // its database (pooled connections, their caches and statements) and its
    // recommendation log are closed too when no request holds them.
    memory_ = std::make_unique<serving::TenantMemory>(
        ServingMemoryBudget(config_),
        [this](const std::string& id) {
          DropServingState(id);
          tenants_->CloseIfUnused(id);
          if (rec_log_) rec_log_->CloseTenant(id);
          if (analytics_) analytics_->Close(id);
        },
        [deployed] { return deployed->residency().bytes; });
    catalog_->SetMemory(memory_.get());
    activity_->SetMemory(memory_.get());
    recommender_->SetMemory(memory_.get());
    serving::TenantMemory* memory = memory_.get();
    auto gauge = [this, memory](std::string name, std::string help, int64_t serving::TenantMemory::Usage::*f) {
      metrics_.DeclareGaugeFunction(std::move(name), std::move(help),
                                    [memory, f] { return static_cast<double>(memory->usage().*f); });
    };
    using U = serving::TenantMemory::Usage;
    gauge("embedrec_serving_resident_tenants", "Tenants whose catalog, popularity or models are in memory",
          &U::tenants);
    gauge("embedrec_catalogs_resident_bytes", "Memory held by tenants' catalogs (estimated)", &U::catalog_bytes);
    gauge("embedrec_activity_resident_bytes", "Memory held by tenants' popularity and user profiles (estimated)",
          &U::activity_bytes);
    gauge("embedrec_recommendation_log_budgeted_bytes",
          "The recommendation log's memory as counted per tenant under the budget (changes of at most a "
          "sixteenth, and 64 KiB, not yet told)",
          &U::log_bytes);
    gauge("embedrec_serving_memory_budget_bytes",
          "The memory budget of models, catalogs, popularity, profiles and the log's recent answers together",
          &U::budget);
    gauge("embedrec_tenant_evictions",
          "Tenants dropped from memory whole (catalog, popularity, models) to stay within the budget", &U::evictions);
    metrics_.DeclareGaugeFunction(
        "embedrec_serving_resident_bytes",
        "Memory held by models, catalogs, popularity, profiles and the log's recent answers (estimated)",
        [memory] {
          const auto u = memory->usage();
          return static_cast<double>(u.models_bytes + u.catalog_bytes + u.activity_bytes + u.log_bytes);
        });
    serving::CatalogCache* catalog = catalog_.get();
    metrics_.DeclareGaugeFunction("embedrec_catalog_reads", "Tenants' catalogs read from their stores (first and again)",
                                  [catalog] { return static_cast<double>(catalog->Loads()); });
    metrics_.DeclareGaugeFunction("embedrec_catalog_checks_unchanged",
                                  "Expired catalogs kept because the event log showed no change since they were read",
                                  [catalog] { return static_cast<double>(catalog->Kept()); });
    // Beside the estimates: what the allocator and the kernel hold (a gap
    // that grows while the estimates do not is memory nobody accounts for).
    metrics_.DeclareGaugeFunction("embedrec_heap_allocated_bytes", "Live heap allocations (jemalloc's stats.allocated)",
                                  [] { return static_cast<double>(ReadMemoryStats().heap_allocated); });
    metrics_.DeclareGaugeFunction("embedrec_heap_resident_bytes",
                                  "The allocator's pages in memory: live, free and its own (jemalloc's stats.resident)",
                                  [] { return static_cast<double>(ReadMemoryStats().heap_resident); });
    metrics_.DeclareGaugeFunction("process_resident_memory_bytes", "Resident memory of the process (RSS)",
                                  [] { return static_cast<double>(ReadMemoryStats().process_resident); });
    metrics_.DeclareGaugeFunction("process_open_fds", "Open file descriptors",
                                  [] { return static_cast<double>(OpenFileCount()); });
    metrics_.DeclareGaugeFunction("process_max_fds", "The limit on open file descriptors (the soft limit)",
                                  [] { return static_cast<double>(OpenFileSoftLimit()); });
  }

  // Every tenant: serve its deployed model, settle the jobs a stopped
  // process left behind, finish a deletion a stopped process left halfway.
  // A tenant that fails is logged, not fatal.
  Status RecoverTenants() {
    std::string cursor;
    int tenants = 0;
    do {
      ASSIGN_OR_RETURN(auto page, control_->ListTenants(cursor, 500));
      for (const auto& t : page.tenants) {
        if (t.status == tenants::kDeleting) {
          Status s = tenant_service_->Delete(t.id);
          if (!s.ok()) spdlog::error("tenant {}: finishing its deletion failed: {}", t.id, s.ToString());
          continue;
        }
        Status s = training_->Recover(t.id);
        if (s.ok()) s = experiments_->Recover(t.id);
        if (!s.ok()) spdlog::error("tenant {}: start-up recovery failed: {}", t.id, s.ToString());
        if (retrain_) retrain_->Watch(t.id);
        tenants_->CloseIfUnused(t.id);  // opened again by its first request (or its queued job)
        ++tenants;
      }
      cursor = page.next_cursor.value_or("");
    } while (!cursor.empty());
    spdlog::info("{} tenants recovered; their models are read on first use (budget {} MB)", tenants,
                 deployed_.residency().budget >> 20);
    return Status::Ok();
  }

  ServeConfig config_;
  bool down_ = false;
  // The time every module reads: the real clock, or (EMBEDREC_TEST_CLOCK) one
  // tests move forward.
  std::unique_ptr<OffsetClock> test_clock_;
  Clock* clock_ = RealClock();
  MetricsRegistry metrics_;
  std::unique_ptr<store::ControlStore> control_;
  std::unique_ptr<store::TenantStores> tenants_;
  std::unique_ptr<blob::TenantBlobStores> blobs_;
  std::unique_ptr<ingest::UploadProgressBoard> upload_progress_;
  std::unique_ptr<limits::LimitStore> limits_;  // outlives throttle_ and the routes
  std::unique_ptr<auth::LoginThrottle> throttle_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<auth::SessionService> sessions_;
  std::unique_ptr<api::TenantSettingsCache> settings_;
  serving::DeployedModels deployed_;
  std::unique_ptr<serving::TenantMemory> memory_;  // outlives the caches that report to it
  std::unique_ptr<events::EventPublisher> publisher_;  // outlives relay_
  std::unique_ptr<events::EventRelay> relay_;
  std::unique_ptr<events::EventSubscriber> subscriber_;  // other nodes' events (Kafka)
  std::string node_;  // this process among the nodes
  std::atomic<int64_t> applied_from_kafka_{0};
  std::unique_ptr<store::JobQueue> job_queue_;  // scale-out; outlives training_
  std::unique_ptr<training::TrainingService> training_;
  std::unique_ptr<training::RetrainScheduler> retrain_;  // before training_ is shut down: reset first
  std::unique_ptr<serving::CatalogCache> catalog_;
  std::unique_ptr<serving::Activity> activity_;
  std::unique_ptr<serving::Recommender> recommender_;
  std::unique_ptr<store::RecommendationLog> rec_log_;
  // After the log: destroyed first (its last flush reads the log).
  std::unique_ptr<store::AnalyticsStore> analytics_store_;
  std::unique_ptr<analytics::Analytics> analytics_;
  // Reset in Shutdown after training's jobs end (they offer it versions) and
  // before training goes (it deploys through training's registry).
  std::unique_ptr<experiments::ExperimentService> experiments_;
  std::unique_ptr<serving::RecommendationService> recommendations_;
  std::atomic<bool> down_remote_{false};  // other nodes' changes are no longer applied
  std::unique_ptr<tenants::TenantService> tenant_service_;
  std::unique_ptr<tenants::Retention> retention_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::unique_ptr<ingest::DataQuality> data_quality_;  // its rescans run in slow_lane_ (declared below)
  std::unique_ptr<tenants::DataQuotas> data_quotas_;
  api::ApiDeps deps_;
  http::Router router_;
  std::unique_ptr<FairThreadPool> workers_, slow_lane_, streams_;
  std::atomic<FairThreadPool*> callback_pool_{nullptr};  // workers_ while it runs
  std::atomic<FairThreadPool*> refresh_pool_{nullptr};   // slow_lane_ while it runs
  std::unique_ptr<http::Dispatcher> dispatcher_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace

StatusOr<std::unique_ptr<Platform>> Platform::Start(const ServeConfig& config) {
  auto p = std::make_unique<PlatformImpl>(config);
  RETURN_IF_ERROR(p->Init());
  return std::unique_ptr<Platform>(std::move(p));
}

}  // namespace embedrec::app
