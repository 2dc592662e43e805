#include "api/call.h"

#include "common/random.h"
#include "http/declared.h"
#include "http/errors.h"

namespace embedrec::api {

namespace {

// The declared parameters and body of a request (the body parsed to check it).
Status CheckDeclared(const http::Declared& declared, const http::Request& req, const http::PathParams& params) {
  RETURN_IF_ERROR(declared.CheckParams(req, params));
  if (declared.has_body()) RETURN_IF_ERROR(declared.Body(req).status());
  return Status::Ok();
}

}  // namespace

void AddAuthed(http::Router& router, http::RouteInfo info, const PlatformDeps& deps, uint32_t permission,
               AuthedFn fn) {
  auth::Authenticator* authn = deps.authenticator;
  auto declared = std::make_shared<const http::Declared>(http::Declared::Compile(info));
  router.Add(std::move(info), [authn, permission, declared, fn = std::move(fn)](const http::Request& req,
                                                                              const http::PathParams& params) {
    auto res = [&]() -> StatusOr<http::Response> {
      ASSIGN_OR_RETURN(auth::Principal who, authn->Authenticate(req.Header("authorization")));
      if (permission != 0) RETURN_IF_ERROR(who.Require(permission));
      RETURN_IF_ERROR(CheckDeclared(*declared, req, params));
      return fn(req, params, who);
    }();
    if (!res.ok()) return http::ErrorResponse(res.status(), req.request_id);
    return std::move(res).value();
  });
}

void AddPublic(http::Router& router, http::RouteInfo info, PublicFn fn) {
  info.authenticated = false;
  auto declared = std::make_shared<const http::Declared>(http::Declared::Compile(info));
  router.Add(std::move(info), [declared, fn = std::move(fn)](const http::Request& req, const http::PathParams& params) {
    auto res = [&]() -> StatusOr<http::Response> {
      RETURN_IF_ERROR(CheckDeclared(*declared, req, params));
      return fn(req, params);
    }();
    if (!res.ok()) return http::ErrorResponse(res.status(), req.request_id);
    return std::move(res).value();
  });
}

void RegisterAllRoutes(http::Router& router, const ApiDeps& deps) {
  RegisterSystemRoutes(router, deps.platform);
  RegisterWebRoutes(router, deps.platform);
  RegisterTenantRoutes(router, deps.platform);
  RegisterAuthRoutes(router, deps.platform);
  RegisterSecretRoutes(router, deps.platform);
  TenantRoutes routes(&router, deps.tenant);
  RegisterUserRoutes(router, routes, deps.platform);
  RegisterApiKeyRoutes(routes);
  if (deps.tenant.ingest) RegisterUploadRoutes(routes, deps.max_upload_bytes);
  RegisterItemRoutes(routes);
  RegisterDataQualityRoutes(routes);
  RegisterInteractionRoutes(routes);
  if (deps.tenant.training && deps.tenant.deployed) {
    RegisterTrainingRoutes(routes);
    RegisterModelRoutes(routes);
    RegisterExperimentRoutes(routes);
  }
  if (deps.tenant.recommender && deps.tenant.recommendations) RegisterRecommendationRoutes(routes);
  RegisterAnalyticsRoutes(routes);
  RegisterAdminUsageRoutes(router, deps.platform);
}

std::string MetricsTenantLabel(const std::string& key, std::string_view tenant_id) {
  return "t_" + HexEncode(HmacSha256(key, "metrics-label:" + std::string(tenant_id))).substr(0, 16);
}

}  // namespace embedrec::api
