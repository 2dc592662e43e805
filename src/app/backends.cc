#include "app/backends.h"

#include <spdlog/spdlog.h>

namespace embedrec::app {

bool SharedControlStore(const ServeConfig& config) {
  return !config.database_url.empty() && config.database_url != "sqlite://";
}

StatusOr<std::unique_ptr<store::ControlStore>> OpenControlStore(const ServeConfig& config) {
  if (!SharedControlStore(config)) return store::OpenSqliteControlStore(config.data_dir + "/control.db");
  ASSIGN_OR_RETURN(auto control, store::OpenPostgresControlStore(config.database_url));
  spdlog::info("control data in PostgreSQL (schema control)");
  return control;
}

StatusOr<std::unique_ptr<blob::TenantBlobStores>> OpenTenantBlobs(const ServeConfig& config,
                                                                  store::TenantStores* spaces) {
  if (config.blob_url.empty() || config.blob_url == "file://") {
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
