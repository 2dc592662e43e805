#include "api/call.h"

#include "http/errors.h"

namespace embedrec::api {

http::Handler Authed(const PlatformDeps& deps, uint32_t permission, AuthedFn fn) {
  auth::Authenticator* authn = deps.authenticator;
  return [authn, permission, fn = std::move(fn)](const http::Request& req,
                                                 const http::PathParams& params) {
    auto principal = authn->Authenticate(req.Header("authorization"));
    if (!principal.ok()) return http::ErrorResponse(principal.status(), req.request_id);
    if (permission != 0) {
      Status s = principal->Require(permission);
      if (!s.ok()) return http::ErrorResponse(s, req.request_id);
    }
    auto res = fn(req, params, *principal);
    if (!res.ok()) return http::ErrorResponse(res.status(), req.request_id);
    return std::move(res).value();
  };
}

http::Handler Public(PublicFn fn) {
  return [fn = std::move(fn)](const http::Request& req, const http::PathParams& params) {
    auto res = fn(req, params);
    if (!res.ok()) return http::ErrorResponse(res.status(), req.request_id);
    return std::move(res).value();
  };
}

void RegisterAllRoutes(http::Router& router, const ApiDeps& deps) {
  RegisterSystemRoutes(router, deps.platform);
  RegisterTenantRoutes(router, deps.platform);
  RegisterAuthRoutes(router, deps.platform);
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
  }
  if (deps.tenant.recommender && deps.tenant.recommendations) RegisterRecommendationRoutes(routes);
}

}  // namespace embedrec::api
