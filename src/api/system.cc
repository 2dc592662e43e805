// Operational routes: liveness, readiness, Prometheus metrics and the
// OpenAPI document (generated from the route table, so it never drifts).
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/build_info.h"
#include "common/random.h"
#include "common/time_format.h"
#include "http/errors.h"
#include "http/openapi.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

void RegisterSystemRoutes(http::Router& router, const PlatformDeps& deps) {
  const PlatformDeps* d = &deps;
  const http::Router* rt = &router;
  deps.metrics->Declare("embedrec_build_info", MetricsRegistry::Type::kGauge,
                        "Build version and commit of the running binary.");
  deps.metrics->SetGauge("embedrec_build_info", {{"version", kVersion}, {"git_sha", kGitSha}}, 1);

  http::RouteInfo health{"GET", "/healthz", "Liveness: the process answers", "system",
                         http::Role::kSystem, false};
  health.blocking = false;
  health.replies = {{.status = 200, .description = "alive", .schema = R"({"type":"object","required":["status"],"properties":{"status":{"type":"string","enum":["ok"]}}})"}};
  AddPublic(router, health, [](const Request&, const PathParams&) -> StatusOr<http::Response> {
               return JsonAnswer(200, json::object{{"status", "ok"}});
             });

  http::RouteInfo ready{"GET", "/readyz", "Readiness: the stores are usable", "system",
                        http::Role::kSystem, false};
  const char* readiness = R"({"type":"object","required":["status","checks"],"properties":{
    "status":{"type":"string","enum":["ready","not_ready"]},"checks":{"type":"object"}}})";
  ready.replies = {{.status = 200, .description = "ready", .schema = readiness},
                   {.status = 503, .description = "a store is not usable", .schema = readiness}};
  AddPublic(router, ready, [d](const Request&, const PathParams&) -> StatusOr<http::Response> {
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
             });

  http::RouteInfo metrics{"GET", "/metrics", "Prometheus metrics (text format 0.0.4)", "system",
                          http::Role::kSystem, false};
  metrics.blocking = false;
  metrics.replies = {{.status = 200, .description = "metrics", .media = "text/plain"}};
  // Per-tenant series name their tenant by an alias (a keyed hash of its id,
  // the same on every node: GET /api/v1/admin/tenants/{id} shows it as
  // metrics_label); the platform admin's token shows the ids.
  AddPublic(router, metrics, [d](const Request& req, const PathParams&) -> StatusOr<http::Response> {
               http::Response r;
               r.content_type = "text/plain; version=0.0.4; charset=utf-8";
               if (d->authenticator->IsPlatformAdmin(req.Header("authorization"))) {
                 r.body = d->metrics->RenderPrometheus();
               } else {
                 const std::string key = d->authenticator->label_key();
                 r.body = d->metrics->RenderPrometheus(
                     [&key](std::string_view tenant) { return MetricsTenantLabel(key, tenant); });
               }
               return r;
             });

  http::RouteInfo openapi{"GET", "/openapi.json", "This API's OpenAPI 3 document", "system",
                          http::Role::kSystem, false};
  openapi.blocking = false;
  openapi.replies = {{.status = 200, .description = "this document", .schema = R"({"type":"object","required":["openapi","paths"]})"}};
  AddPublic(router, openapi, [rt](const Request&, const PathParams&) -> StatusOr<http::Response> {
               return JsonAnswer(200, http::OpenApiDocument(*rt, kVersion));
             });
  if (deps.test_clock) {
    // Tests of what happens days later (automatic retraining): the time
    // moves forward only, for the whole process.
    http::RouteInfo clock{"POST", "/api/v1/admin/clock",
                          "Tests only (EMBEDREC_TEST_CLOCK): move the server's time forward (platform admin)",
                          "system"};
    clock.body_schema = R"({"type":"object","required":["advance_seconds"],"properties":{
      "advance_seconds":{"type":"integer","minimum":0,"maximum":315360000}}})";
    clock.replies = {schema::Reply(200, "the server's time now", R"({"type":"object","required":["now","offset_seconds"]})")};
    OffsetClock* c = deps.test_clock;
    AddAuthed(router, clock, deps, auth::kPlatformAdmin,
              [c](const Request& req, const PathParams&, const auth::Principal&) -> StatusOr<http::Response> {
                ASSIGN_OR_RETURN(json::object body, ParseJsonObject(req));
                ASSIGN_OR_RETURN(auto seconds, OptInt(body, "advance_seconds", 0, 315360000));
                if (!seconds) return Status::InvalidArgument("field 'advance_seconds' is required",
                                                             {{"field", "advance_seconds"}});
                c->AdvanceMillis(*seconds * 1000);
                return JsonAnswer(200, json::object{{"now", FormatRfc3339Millis(c->NowMillis())},
                                                    {"offset_seconds", c->offset_ms() / 1000}});
              });
  }
}

}  // namespace embedrec::api
