#include "api/call.h"

#include "http/errors.h"

namespace embedrec::api {

http::Handler Authed(const Deps& deps, uint32_t permission, AuthedFn fn) {
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

void RegisterAllRoutes(http::Router& router, const Deps& deps) {
  RegisterSystemRoutes(router, deps);
  RegisterTenantRoutes(router, deps);
  RegisterUserRoutes(router, deps);
  RegisterAuthRoutes(router, deps);
  RegisterApiKeyRoutes(router, deps);
  RegisterUploadRoutes(router, deps);
  RegisterItemRoutes(router, deps);
  RegisterDataQualityRoutes(router, deps);
  RegisterInteractionRoutes(router, deps);
  if (deps.training) {
    RegisterTrainingRoutes(router, deps);
    RegisterModelRoutes(router, deps);
  }
  if (deps.recommender && deps.recommendations) RegisterRecommendationRoutes(router, deps);
}

}  // namespace embedrec::api
