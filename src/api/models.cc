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
                 {"status", store::VersionStatusName(v.status)},
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
  o["traffic_weight"] = v.traffic_weight;
  return o;
}

// {"versions":[{"model_version","weight","share"}...]}: what serves now, the
// deployed version first.
json::object TrafficJson(const std::vector<serving::LiveVersion>& live) {
  double total = 0;
  for (const auto& l : live) total += l.weight;
  json::array versions;
  for (const auto& l : live) {
    versions.push_back(json::object{{"model_version", l.model->version},
                                    {"model_type", l.model->model_type},
                                    {"weight", l.weight},
                                    {"share", total > 0 ? l.weight / total : 0.0}});
  }
  return json::object{{"versions", std::move(versions)}};
}

StatusOr<training::ModelRegistry::Split> ParseSplit(const json::object& body) {
  const json::value* v = body.if_contains("versions");
  if (!v || !v->is_array()) return FieldTypeError("versions", "an array of {model_version, weight}");
  if (v->as_array().empty() || v->as_array().size() > training::ModelRegistry::kMaxLive) {
    return FieldValueError("versions", "versions must name 1 to " +
                                           std::to_string(training::ModelRegistry::kMaxLive) + " model versions");
  }
  training::ModelRegistry::Split split;
  for (const auto& e : v->as_array()) {
    if (!e.is_object()) return FieldTypeError("versions", "an array of {model_version, weight}");
    ASSIGN_OR_RETURN(std::string version, ReqString(e.as_object(), "model_version", 64));
    const json::value* w = e.as_object().if_contains("weight");
    if (!w || !w->is_number()) return FieldTypeError("versions[].weight", "a number");
    const double weight = w->to_number<double>();
    if (!(weight > 0 && weight <= 1e6)) return FieldValueError("versions[].weight", "weights must be > 0 and <= 1000000");
    split.emplace_back(std::move(version), weight);
  }
  return split;
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

  router.Add({"GET", "/api/v1/models/traffic",
              "The live versions and their share of users (an A/B split, or the deployed one at 100 %)",
              "models", Role::kMlEngine},
             Authed(deps, 0, [d](const Request& req, const PathParams&,
                                 const auth::Principal& who) -> StatusOr<http::Response> {
               if (!who.Has(auth::kModelsTrain)) RETURN_IF_ERROR(who.Require(auth::kModelsRead));
               ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
               return JsonAnswer(200, TrafficJson(d->deployed->Live(tid)));
             }));

  // Loading a model version (deploy, a split) reads and indexes its files: slow.
  http::RouteInfo set_traffic{"PUT", "/api/v1/models/traffic",
                              "Split users between stored versions by weight (the deployed one among them); "
                              "a user stays with one version while the split is unchanged",
                              "models", Role::kMlEngine};
  set_traffic.slow = true;
  router.Add(set_traffic,
             Authed(deps, auth::kModelsTrain, [d](const Request& req, const PathParams&,
                                                  const auth::Principal& who) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto body, ParseJsonObject(req));
               ASSIGN_OR_RETURN(auto tid_field, OptString(body, "tenant_id", 64));
               ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(tid_field.value_or("")));
               ASSIGN_OR_RETURN(auto split, ParseSplit(body));
               ASSIGN_OR_RETURN(auto store, d->tenants->Open(tid));
               RETURN_IF_ERROR(d->training->registry().SetTraffic(tid, *store, split));
               return JsonAnswer(200, TrafficJson(d->deployed->Live(tid)));
             }));

  http::RouteInfo deploy{"POST", "/api/v1/models/{version}/deploy",
                         "Deploy a stored version (rollback or roll forward)", "models", Role::kMlEngine};
  deploy.slow = true;
  router.Add(deploy,
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
