// The model registry (ML engine port): versions, deploy (rollback or roll
// forward), delete.

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
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
                                    {"model_type", ml::ModelTypeName(l.model->model_type)},
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

constexpr const char* kVersion = R"({"type":"object",
  "required":["version","model_type","status","created_at","size_bytes","metrics","hyperparameters","index","job_id","model_location","serving","traffic_weight"],
  "properties":{"version":{"type":"string"},"model_type":{"type":"string"},
  "status":{"type":"string","enum":["deployed","standby","archived"]},"created_at":{"type":"string"},
  "size_bytes":{"type":"integer"},"metrics":{"type":"object"},"hyperparameters":{"type":"object"},"index":{"type":"object"},
  "job_id":{"type":"string"},"model_location":{"type":"string"},"reason":{"type":"string"},"deployed_at":{"type":"string"},
  "serving":{"type":"boolean"},"traffic_weight":{"type":"number"}}})";

constexpr const char* kTraffic = R"({"type":"object","required":["versions"],"properties":{"versions":{"type":"array",
  "items":{"type":"object","required":["model_version","model_type","weight","share"],"properties":{
  "model_version":{"type":"string"},"model_type":{"type":"string"},"weight":{"type":"number"},"share":{"type":"number"}}}}}})";

http::Param Version() { return schema::Path("version", 64, "a model version (v<major>.<minor>_<YYYYMMDD>)"); }

}  // namespace

void RegisterModelRoutes(TenantRoutes& routes) {
  using http::Role;
  const Needs read{.any = auth::kModelsTrain | auth::kModelsRead};
  const Needs train{.all = auth::kModelsTrain};

  http::RouteInfo list{"GET", "/api/v1/models", "The tenant's model versions with metrics and status", "models",
                       Role::kMlEngine};
  list.replies = {schema::Reply(200, "every stored version, newest first",
                                std::string(R"({"type":"object","required":["models","serving_version"],"properties":{
    "models":{"type":"array","items":)") + kVersion + R"(},"serving_version":{"type":"string"},"problem":{"type":"string"}}})")};
  routes.Add(list, read, [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto versions, ctx.Versions());
               auto serving = ctx.Deployed();
               const std::string serving_version = serving ? serving->version : "";
               json::array out;
               for (const auto& v : versions) {
                 out.push_back(VersionJson(v, ctx.BlobLocation(v.model_key), serving_version));
               }
               json::object body{{"models", std::move(out)}, {"serving_version", serving_version}};
               if (auto problem = ctx.ModelProblem()) body["problem"] = *problem;
               return JsonAnswer(200, body);
             });

  http::RouteInfo traffic{"GET", "/api/v1/models/traffic",
                          "The live versions and their share of users (an A/B split, or the deployed one at 100 %)",
                          "models", Role::kMlEngine};
  traffic.replies = {schema::Reply(200, "the live versions, the deployed one first", kTraffic)};
  routes.Add(traffic, read, [](const Request&, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               return JsonAnswer(200, TrafficJson(ctx.LiveVersions()));
             });

  // Loading a model version (deploy, a split) reads and indexes its files: slow.
  http::RouteInfo set_traffic{"PUT", "/api/v1/models/traffic",
                              "Split users between stored versions by weight (the deployed one among them); "
                              "a user stays with one version while the split is unchanged",
                              "models", Role::kMlEngine};
  set_traffic.slow = true;
  set_traffic.body_schema = R"({"type":"object","required":["versions"],"properties":{"versions":{"type":"array",
    "minItems":1,"maxItems":)" + std::to_string(training::ModelRegistry::kMaxLive) + R"(,"items":{"type":"object",
    "required":["model_version","weight"],"properties":{"model_version":{"type":"string","minLength":1,"maxLength":64},
    "weight":{"type":"number","minimum":0,"exclusiveMinimum":true,"maximum":1000000}}}}}})";
  set_traffic.replies = {schema::Reply(200, "the live versions now", kTraffic)};
  set_traffic.errors = {404, 409};
  routes.AddJson(set_traffic, train,
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
                   ASSIGN_OR_RETURN(auto split, ParseSplit(body));
                   RETURN_IF_ERROR(ctx.SetTraffic(split));
                   return JsonAnswer(200, TrafficJson(ctx.LiveVersions()));
                 });

  http::RouteInfo deploy{"POST", "/api/v1/models/{version}/deploy",
                         "Deploy a stored version (rollback or roll forward)", "models", Role::kMlEngine};
  deploy.slow = true;
  deploy.params = {Version()};
  deploy.replies = {schema::Reply(200, "the version, deployed", kVersion)};
  deploy.errors = {404, 409};
  routes.Add(deploy, train,
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(auto v, ctx.DeployVersion(p.Get("version"),
                                                          "deployed by hand (" + ctx.who().Describe() + ")"));
               return JsonAnswer(200, VersionJson(v, ctx.BlobLocation(v.model_key), v.version));
             });

  http::RouteInfo remove{"DELETE", "/api/v1/models/{version}", "Delete a version that is not deployed", "models",
                         Role::kMlEngine};
  remove.params = {Version()};
  remove.replies = {schema::NoContent("deleted")};
  remove.errors = {404, 409};
  routes.Add(remove, train, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               RETURN_IF_ERROR(ctx.DeleteVersion(p.Get("version")));
               http::Response r;
               r.status = 204;
               r.content_type.clear();
               return r;
             });
}

}  // namespace embedrec::api
