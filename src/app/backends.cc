#include "app/backends.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <mutex>
#include <set>

namespace embedrec::app {
namespace {
namespace fs = std::filesystem;

// Tenant stores in PostgreSQL, with this node's local directory per tenant
// (see OpenTenantStores).
class WithLocalDirs final : public store::TenantStores {
 public:
  WithLocalDirs(std::unique_ptr<store::TenantStores> shared, std::string root)
      : shared_(std::move(shared)), root_(std::move(root)) {}

  Status Create(const std::string& tenant_id) override {
    RETURN_IF_ERROR(shared_->Create(tenant_id));
    return LocalDir(tenant_id);
  }
  StatusOr<std::shared_ptr<store::TenantStore>> Open(const std::string& tenant_id) override {
    ASSIGN_OR_RETURN(auto store, shared_->Open(tenant_id));
    RETURN_IF_ERROR(LocalDir(tenant_id));
    return store;
  }
  bool IsOpen(const std::string& tenant_id) override { return shared_->IsOpen(tenant_id); }
  size_t OpenCount() override { return shared_->OpenCount(); }
  void CloseIfUnused(const std::string& tenant_id) override { shared_->CloseIfUnused(tenant_id); }
  void OnIdleClose(std::function<void(const std::vector<std::string>&)> fn) override {
    shared_->OnIdleClose(std::move(fn));
  }
  Status Ping() override { return shared_->Ping(); }
  void OnRemoteChange(std::function<void(const store::RemoteChange&)> fn) override {
    shared_->OnRemoteChange(std::move(fn));
  }
  void Broadcast(const store::RemoteChange& change) override { shared_->Broadcast(change); }
  Status Drop(const std::string& tenant_id) override {
    RETURN_IF_ERROR(shared_->Drop(tenant_id));
    {
      std::lock_guard lock(mu_);
      made_.erase(tenant_id);
    }
    std::error_code ec;
    if (store::IsUuid(tenant_id)) fs::remove_all(fs::path(root_) / tenant_id, ec);
    if (ec) return Status::Internal("cannot delete the tenant's local directory: " + ec.message());
    return Status::Ok();
  }

 private:
  Status LocalDir(const std::string& tenant_id) {
    std::lock_guard lock(mu_);
    if (made_.count(tenant_id)) return Status::Ok();
    std::error_code ec;
    fs::create_directories(fs::path(root_) / tenant_id, ec);
    if (ec) return Status::Internal("cannot create the tenant's local directory: " + ec.message());
    made_.insert(tenant_id);
    return Status::Ok();
  }

  std::unique_ptr<store::TenantStores> shared_;
  std::string root_;
  std::mutex mu_;
  std::set<std::string> made_;
};

}  // namespace

bool SharedControlStore(const ServeConfig& config) {
  return !config.database_url.empty() && config.database_url != "sqlite://";
}

StatusOr<std::unique_ptr<store::ControlStore>> OpenControlStore(const ServeConfig& config) {
  if (!SharedControlStore(config)) return store::OpenSqliteControlStore(config.data_dir + "/control.db");
  ASSIGN_OR_RETURN(auto control, store::OpenPostgresControlStore(config.database_url));
  spdlog::info("control data in PostgreSQL (schema control)");
  return control;
}

StatusOr<std::unique_ptr<limits::LimitStore>> OpenLimitStore(const ServeConfig& config) {
  if (config.cache_url.empty()) return limits::NewMemoryLimitStore();
  ASSIGN_OR_RETURN(auto redis, limits::OpenRedisLimitStore(config.cache_url));
  spdlog::info("login throttling and rate limits counted in Redis");
  return limits::WithLocalBatches(limits::WithLocalFallback(std::move(redis), limits::NewMemoryLimitStore()));
}

StatusOr<std::unique_ptr<ingest::UploadProgressBoard>> OpenUploadProgress(const ServeConfig& config,
                                                                          const Clock* clock) {
  if (config.cache_url.empty()) return ingest::NewMemoryUploadProgressBoard(clock);
  return ingest::OpenRedisUploadProgressBoard(config.cache_url, clock);
}

StatusOr<std::unique_ptr<events::EventPublisher>> OpenEventPublisher(const ServeConfig& config) {
  if (config.events_url.empty()) return std::unique_ptr<events::EventPublisher>();
  ASSIGN_OR_RETURN(auto publisher, events::OpenKafkaPublisher(config.events_url));
  spdlog::info("events published to {}", publisher->Describe());
  return publisher;
}

StatusOr<std::unique_ptr<store::JobQueue>> OpenJobQueue(const ServeConfig& config) {
  if (!SharedControlStore(config)) return std::unique_ptr<store::JobQueue>();
  return store::OpenPostgresJobQueue(config.database_url);
}

StatusOr<std::unique_ptr<store::TenantStores>> OpenTenantStores(const ServeConfig& config, const Clock* clock,
                                                                store::CallbackRunner run_callback,
                                                                const std::string& node) {
  const std::string root = config.data_dir + "/tenants";
  if (!SharedControlStore(config)) {
    return store::NewSqliteTenantStores(root, clock, std::move(run_callback),
                                        int64_t{config.tenant_idle_seconds} * 1000, config.track_commit_ms);
  }
  ASSIGN_OR_RETURN(auto shared, store::NewPostgresTenantStores(config.database_url, clock, std::move(run_callback), 16,
                                                               {node, /*notify_tracked=*/config.events_url.empty()}));
  spdlog::info("tenant data in PostgreSQL (a schema per tenant)");
  return std::unique_ptr<store::TenantStores>(new WithLocalDirs(std::move(shared), root));
}

StatusOr<std::unique_ptr<store::RecommendationLog>> OpenRecommendationLog(const ServeConfig& config,
                                                                          const Clock* clock,
                                                                          store::RecommendationLogOptions options) {
  if (!SharedControlStore(config)) return store::NewSqliteRecommendationLog(config.data_dir + "/tenants", clock, options);
  return store::NewPostgresRecommendationLog(config.database_url, clock, options);
}

StatusOr<std::unique_ptr<store::AnalyticsStore>> OpenAnalyticsStore(const ServeConfig& config) {
  if (!SharedControlStore(config)) return store::NewSqliteAnalyticsStore(config.data_dir + "/tenants");
  return store::NewPostgresAnalyticsStore(config.database_url);
}

StatusOr<std::unique_ptr<blob::TenantBlobStores>> OpenTenantBlobs(const ServeConfig& config,
                                                                  store::TenantStores* spaces) {
  if (config.blob_url.empty() || config.blob_url == "file://") {
    // A process killed mid-upload left its unfinished file: nobody writes yet.
    if (int64_t n = blob::RemoveFsTempFiles(config.data_dir + "/tenants"); n > 0) {
      spdlog::info("removed {} unfinished blob files left by a stop mid-write", n);
    }
    return blob::NewFsTenantBlobStores(config.data_dir + "/tenants");
  }
  ASSIGN_OR_RETURN(blob::S3Options options, blob::S3OptionsFromUrl(config.blob_url));
  // The bucket answers and accepts our signature before the server starts.
  ASSIGN_OR_RETURN(auto probe, blob::OpenS3BlobStore(options));
  spdlog::info("blobs in {}", probe->Location(""));
  return blob::NewS3TenantBlobStores(options, [spaces](const std::string& tenant_id) {
    return spaces->Open(tenant_id).ok();
  });
}

}  // namespace embedrec::app
