#include "app/backends.h"

#include <spdlog/spdlog.h>

namespace embedrec::app {

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
