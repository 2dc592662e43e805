// The model registry (ML engine port): versions, deploy (rollback or roll
// forward), delete.

#include "api/call.h"
#include "api/json_body.h"
#include "common/time_format.h"
#include "serving/deployed_models.h"
#include "training/training_service.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

json::object VersionJson(const store::ModelVersionRecord& v, const std::string& location,
                         const std::string& serving) {
  json::object o{{"version", v.version},
                 {"model_type", v.model_type},
                 {"status", v.status},
                 {"created_at", FormatRfc3339Millis(v.created_at_ms)},
                 {"size_bytes", v.size_bytes},
                 {"metrics", StoredJson(v.metrics_json)},
                 {"hyperparameters", StoredJson(v.params_json)},
                 {"index", StoredJson(v.index_json)},
                 {"job_id", v.job_id},
                 {"model_location", location}};
  if (!v.reason.empty()) o["reason"] = v.reason;
  if (v.deployed_at_ms) o["deployed_at"] = FormatRfc3339Millis(v.deployed_at_ms);
  o["serving"] = serving == v.version;
  return o;
}

}  // namespace

void RegisterModelRoutes(http::Router& router, const Deps& deps) {
  const Deps* d = &deps;
  using http::Role;

  router.Add({"GET", "/api/v1/models", "The tenant's model versions with metrics and status",
              "models", Role::kMlEngine},
             Authed(deps, 0, [d](const Request& req, const PathParams&,
                                 const auth::Principal& who) -> StatusOr<http::Response> {
               if (!who.Has(auth::kModelsTrain)) RETURN_IF_ERROR(who.Require(auth::kModelsRead));
               ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
               ASSIGN_OR_RETURN(auto store, d->tenants->Open(tid));
               ASSIGN_OR_RETURN(auto versions, store->training().ListVersions());
               auto serving = d->deployed->Get(tid);
               const std::string serving_version = serving ? serving->version : "";
               json::array out;
               for (const auto& v : versions) {
                 out.push_back(VersionJson(v, d->training->registry().Location(tid, v.model_key),
                                           serving_version));
               }
               json::object body{{"models", std::move(out)}, {"serving_version", serving_version}};
               auto problems = d->deployed->Problems();
               if (auto it = problems.find(tid); it != problems.end()) body["problem"] = it->second;
               return JsonAnswer(200, body);
             }));

  router.Add({"POST", "/api/v1/models/{version}/deploy",
              "Deploy a stored version (rollback or roll forward)", "models", Role::kMlEngine},
             Authed(deps, auth::kModelsTrain, [d](const Request& req, const PathParams& p,
                                                  const auth::Principal& who) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
               ASSIGN_OR_RETURN(auto store, d->tenants->Open(tid));
               auto& registry = d->training->registry();
               ASSIGN_OR_RETURN(auto v, registry.Deploy(tid, *store, p.Get("version"),
                                                        "deployed by hand (" + who.Describe() + ")"));
               return JsonAnswer(200, VersionJson(v, registry.Location(tid, v.model_key), v.version));
             }));

  router.Add({"DELETE", "/api/v1/models/{version}", "Delete a version that is not deployed",
              "models", Role::kMlEngine},
             Authed(deps, auth::kModelsTrain, [d](const Request& req, const PathParams& p,
                                                  const auth::Principal& who) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
               ASSIGN_OR_RETURN(auto store, d->tenants->Open(tid));
               RETURN_IF_ERROR(d->training->registry().Delete(tid, *store, p.Get("version")));
               http::Response r;
               r.status = 204;
               r.content_type.clear();
               return r;
             }));
}

}  // namespace embedrec::api
