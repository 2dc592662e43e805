// What every API resource file shares: the dependencies of platform routes,
// wrappers that authenticate the caller, check its permission and turn a
// returned Status into the JSON error answer, and the registration of each
// resource's routes. Tenant-scoped routes: api/tenant_context.h.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "api/tenant_routes.h"
#include "auth/authenticator.h"
#include "auth/principal.h"
#include "auth/session_service.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "http/router.h"
#include "store/control_store.h"
#include "tenants/tenant_limits.h"

namespace embedrec::tenants {
class TenantService;
}
namespace embedrec::analytics {
class Analytics;
}
namespace embedrec::ingest {
struct CountedData;
}

namespace embedrec::api {

// What the platform-wide routes use (health, sign-in, the platform admin's
// tenant lifecycle, a user by id). Owned by the app; outlives the router.
struct PlatformDeps {
  store::ControlStore* control = nullptr;
  auth::Authenticator* authenticator = nullptr;
  auth::SessionService* sessions = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  tenants::TenantService* tenant_service = nullptr;  // the tenant lifecycle
  // Readiness: can tenants' data be written; models that failed to load, by tenant.
  std::function<Status()> ping_tenant_spaces;
  std::function<std::map<std::string, std::string>()> model_problems;
  analytics::Analytics* analytics = nullptr;  // every tenant's usage (may be null)
  // The server's time when tests may move it (EMBEDREC_TEST_CLOCK); null otherwise.
  OffsetClock* test_clock = nullptr;
  // Where the built browser assets are (widget.js).
  std::string web_dir;
  // What a tenant may use where its settings.limits is silent.
  tenants::TenantLimits default_limits;
  // Rotations of the platform's secrets (app/secrets.h); null when the
  // configuration sets them (EMBEDREC_JWT_SECRET, EMBEDREC_ADMIN_TOKEN).
  // Their argument: the reason given, for the log.
  std::function<StatusOr<auth::JwtKeyRing>(const std::string& reason)> rotate_jwt_keys;
  std::function<StatusOr<std::string>(const std::string& reason)> rotate_admin_token;
};

// Everything the API is built from.
struct ApiDeps {
  PlatformDeps platform;
  TenantServices tenant;  // only TenantRoutes holds these
  uint64_t max_upload_bytes = uint64_t{64} << 30;
};

using AuthedFn = std::function<StatusOr<http::Response>(
    const http::Request&, const http::PathParams&, const auth::Principal&)>;
using PublicFn =
    std::function<StatusOr<http::Response>(const http::Request&, const http::PathParams&)>;

// Adds a platform route that authenticates the bearer token, requires
// `permission` (0: any authenticated caller), checks the route's declared
// parameters and body (http/declared.h), then runs `fn`; any error becomes
// the JSON error answer.
void AddAuthed(http::Router& router, http::RouteInfo info, const PlatformDeps& deps, uint32_t permission,
               AuthedFn fn);
// The same without authentication (info.authenticated is set false).
void AddPublic(http::Router& router, http::RouteInfo info, PublicFn fn);

// How /metrics names a tenant to whoever may read it (not the platform
// admin): "t_" and 16 hex digits of a keyed hash of its id (`key`: the JWT
// secret, shared by every node).
std::string MetricsTenantLabel(const std::string& key, std::string_view tenant_id);

// Registration of each resource's routes (one file each). Platform routes:
void RegisterSystemRoutes(http::Router& router, const PlatformDeps& deps);
void RegisterWebRoutes(http::Router& router, const PlatformDeps& deps);
void RegisterTenantRoutes(http::Router& router, const PlatformDeps& deps);
void RegisterAuthRoutes(http::Router& router, const PlatformDeps& deps);
void RegisterSecretRoutes(http::Router& router, const PlatformDeps& deps);
// Users: create and list are tenant-scoped; one user by id is found in the
// control store and shown only to its tenant (or the platform admin).
void RegisterUserRoutes(http::Router& router, TenantRoutes& routes, const PlatformDeps& deps);
// Tenant-scoped routes:
void RegisterApiKeyRoutes(TenantRoutes& routes);
void RegisterUploadRoutes(TenantRoutes& routes, uint64_t max_upload_bytes);
void RegisterItemRoutes(TenantRoutes& routes);
void RegisterDataQualityRoutes(TenantRoutes& routes);
// The data-quality report (GET /api/v1/data/quality) of counts taken at
// some point (ingest/data_quality.h), as seen at `now_ms`.
boost::json::object DataQualityReport(const ingest::CountedData& counted, int64_t now_ms);
void RegisterAnalyticsRoutes(TenantRoutes& routes);
void RegisterAdminUsageRoutes(http::Router& router, const PlatformDeps& deps);
void RegisterInteractionRoutes(TenantRoutes& routes);
void RegisterTrainingRoutes(TenantRoutes& routes);
void RegisterModelRoutes(TenantRoutes& routes);
void RegisterExperimentRoutes(TenantRoutes& routes);
void RegisterRecommendationRoutes(TenantRoutes& routes);

// Every route of the platform.
// Every route of the platform; training, model and recommendation routes
// only with their services.
void RegisterAllRoutes(http::Router& router, const ApiDeps& deps);

}  // namespace embedrec::api
