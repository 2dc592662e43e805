// Operational routes: liveness, readiness, Prometheus metrics and the
// OpenAPI document (generated from the route table, so it never drifts).
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "api/call.h"
#include "api/json_body.h"
#include "common/build_info.h"
#include "common/random.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

json::value ErrorSchemaRef() { return json::object{{"$ref", "#/components/schemas/Error"}}; }

json::object OpenApiDocument(const http::Router& router) {
  json::object paths;
  for (const auto& r : router.routes()) {
    std::string path = r.info.pattern;
    json::object op{{"summary", r.info.summary},
                    {"tags", json::array{json::string(r.info.tag)}},
                    {"operationId", AsOperationId(r.info.method, r.info.pattern)}};
    json::array params;
    for (const auto& seg : r.segments) {
      if (seg.size() > 2 && seg.front() == '{') {
        params.push_back(json::object{{"name", seg.substr(1, seg.size() - 2)},
                                      {"in", "path"},
                                      {"required", true},
                                      {"schema", json::object{{"type", "string"}}}});
      }
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (r.info.method == "POST" || r.info.method == "PATCH" || r.info.method == "PUT") {
      op["requestBody"] = json::object{
          {"content", json::object{{"application/json",
                                    json::object{{"schema", json::object{{"type", "object"}}}}}}}};
    }
    if (r.info.authenticated) op["security"] = json::array{json::object{{"bearer", json::array{}}}};
    op["x-embedrec-role"] = std::string(http::RoleName(r.info.role));
    op["responses"] = json::object{
        {"2XX", json::object{{"description", "success"}}},
        {"default",
         json::object{{"description", "error"},
                      {"content", json::object{{"application/json",
                                                json::object{{"schema", ErrorSchemaRef()}}}}}}}};
    std::string method = r.info.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json::value& entry = paths[path];
    if (!entry.is_object()) entry = json::object();
    entry.as_object()[method] = std::move(op);
  }
  json::object error_schema{
      {"type", "object"},
      {"required", json::array{"error"}},
      {"properties",
       json::object{{"error", json::object{{"type", "object"},
                                           {"required", json::array{"code", "message", "details"}},
                                           {"properties",
                                            json::object{{"code", json::object{{"type", "string"}}},
                                                         {"message", json::object{{"type", "string"}}},
                                                         {"details", json::object{{"type", "object"}}}}}}}}}};
  return json::object{
      {"openapi", "3.0.3"},
      {"info", json::object{{"title", "embedrec"}, {"version", kVersion}}},
      {"paths", std::move(paths)},
      {"components",
       json::object{{"securitySchemes",
                     json::object{{"bearer", json::object{{"type", "http"}, {"scheme", "bearer"}}}}},
                    {"schemas", json::object{{"Error", std::move(error_schema)}}}}}};
}

}  // namespace

std::string AsOperationId(const std::string& method, const std::string& pattern) {
  std::string id = method;
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : pattern) {
    if (std::isalnum(static_cast<unsigned char>(c))) id.push_back(c);
    else if (!id.empty() && id.back() != '_') id.push_back('_');
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

void RegisterSystemRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  const http::Router* rt = &router;
  deps.metrics->Declare("embedrec_build_info", MetricsRegistry::Type::kGauge,
                        "Build version and commit of the running binary.");
  deps.metrics->SetGauge("embedrec_build_info", {{"version", kVersion}, {"git_sha", kGitSha}}, 1);

  http::RouteInfo health{"GET", "/healthz", "Liveness: the process answers", "system",
                         http::Role::kSystem, false};
  health.blocking = false;
  router.Add(health, Public([](const Request&, const PathParams&) -> StatusOr<http::Response> {
               return JsonAnswer(200, json::object{{"status", "ok"}});
             }));

  http::RouteInfo ready{"GET", "/readyz", "Readiness: the stores are usable", "system",
                        http::Role::kSystem, false};
  router.Add(ready, Public([d](const Request&, const PathParams&) -> StatusOr<http::Response> {
               json::object checks;
               bool ok = true;
               Status s = d->control->Ping();
               checks["control_store"] = s.ok() ? "ok" : s.message();
               ok &= s.ok();
               Status spaces = d->ping_tenant_spaces ? d->ping_tenant_spaces() : Status::Ok();
               checks["data_dir"] = spaces.ok() ? "ok" : "not writable";
               ok &= spaces.ok();
               if (d->model_problems) {
                 // A model that cannot be loaded is reported; the tenant is
                 // served by its previous good version (or popularity), so the
                 // process stays ready.
                 json::object problems;
                 for (auto& [tid, p] : d->model_problems()) problems[tid] = p;
                 checks["models"] = problems.empty() ? json::value("ok")
                                                     : json::value(json::object{
                                                           {"status", "degraded"},
                                                           {"problems", std::move(problems)}});
               }
               return JsonAnswer(ok ? 200 : 503, json::object{{"status", ok ? "ready" : "not_ready"},
                                                              {"checks", std::move(checks)}});
             }));

  http::RouteInfo metrics{"GET", "/metrics", "Prometheus metrics (text format 0.0.4)", "system",
                          http::Role::kSystem, false};
  metrics.blocking = false;
  router.Add(metrics, Public([d](const Request&, const PathParams&) -> StatusOr<http::Response> {
               http::Response r;
               r.content_type = "text/plain; version=0.0.4; charset=utf-8";
               r.body = d->metrics->RenderPrometheus();
               return r;
             }));

  http::RouteInfo openapi{"GET", "/openapi.json", "This API's OpenAPI 3 document", "system",
                          http::Role::kSystem, false};
  openapi.blocking = false;
  router.Add(openapi, Public([rt](const Request&, const PathParams&) -> StatusOr<http::Response> {
               return JsonAnswer(200, OpenApiDocument(*rt));
             }));
}

}  // namespace embedrec::api
