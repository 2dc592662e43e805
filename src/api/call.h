// What every API resource file shares: the dependencies handlers use, and
// wrappers that authenticate the caller, check its permission and turn a
// returned Status into the JSON error answer.
#pragma once

#include <functional>
#include <string>

#include "api/tenant_settings.h"
#include "auth/authenticator.h"
#include "blob/blob_store.h"
#include "auth/principal.h"
#include "auth/session_service.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "http/router.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"

namespace embedrec::training {
class TrainingService;
}
namespace embedrec::tenants {
class TenantService;
}
namespace embedrec::ingest {
class IngestService;
}
namespace embedrec::serving {
class Activity;
class CatalogCache;
class DeployedModels;
class Recommender;
class RecommendationService;
}

namespace embedrec::api {

// Owned by the app; every pointer outlives the router.
struct Deps {
  store::ControlStore* control = nullptr;
  store::TenantStores* tenants = nullptr;
  auth::Authenticator* authenticator = nullptr;
  auth::SessionService* sessions = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  // The blob area of a tenant (embedded: DATA_DIR/tenants/<id>/blobs).
  std::function<StatusOr<std::unique_ptr<blob::BlobStore>>(const std::string& tenant_id)>
      open_blobs;
  uint64_t max_upload_bytes = uint64_t{64} << 30;
  TenantSettingsCache* settings = nullptr;  // hot-path reads of tenant settings
  training::TrainingService* training = nullptr;  // jobs and the model registry
  serving::DeployedModels* deployed = nullptr;    // the models being served
  serving::Recommender* recommender = nullptr;    // popular items
  serving::RecommendationService* recommendations = nullptr;  // recommendations, similar: cached, logged
  serving::Activity* activity = nullptr;          // real-time profiles, trending, context
  serving::CatalogCache* catalog = nullptr;       // catalog snapshots for serving
  tenants::TenantService* tenant_service = nullptr;  // the tenant lifecycle
  ingest::IngestService* ingest = nullptr;           // uploads
};

using AuthedFn = std::function<StatusOr<http::Response>(
    const http::Request&, const http::PathParams&, const auth::Principal&)>;
using PublicFn =
    std::function<StatusOr<http::Response>(const http::Request&, const http::PathParams&)>;

// Authenticates the bearer token, requires `permission` (0: any authenticated
// caller), then runs `fn`; any error becomes the JSON error answer.
http::Handler Authed(const Deps& deps, uint32_t permission, AuthedFn fn);
// Runs `fn` without authentication; errors become the JSON error answer.
http::Handler Public(PublicFn fn);

// Registration of each resource's routes (one file each).
void RegisterSystemRoutes(http::Router& router, const Deps& deps);
void RegisterTenantRoutes(http::Router& router, const Deps& deps);
void RegisterUserRoutes(http::Router& router, const Deps& deps);
void RegisterAuthRoutes(http::Router& router, const Deps& deps);
void RegisterApiKeyRoutes(http::Router& router, const Deps& deps);
void RegisterUploadRoutes(http::Router& router, const Deps& deps);
void RegisterItemRoutes(http::Router& router, const Deps& deps);
void RegisterDataQualityRoutes(http::Router& router, const Deps& deps);
void RegisterInteractionRoutes(http::Router& router, const Deps& deps);
void RegisterTrainingRoutes(http::Router& router, const Deps& deps);
void RegisterModelRoutes(http::Router& router, const Deps& deps);
void RegisterRecommendationRoutes(http::Router& router, const Deps& deps);

// "post_api_v1_admin_tenants_id": a stable OpenAPI operationId.
std::string AsOperationId(const std::string& method, const std::string& pattern);

// Every route of the platform.
void RegisterAllRoutes(http::Router& router, const Deps& deps);

}  // namespace embedrec::api
