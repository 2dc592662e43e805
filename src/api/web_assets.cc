// What browsers load from the gateway: the widget's script for a shop's
// pages (GET /widget.js, the IIFE build of web/widget). Built by `make
// build` (npm) into the web directory, read once at start.
#include <spdlog/spdlog.h>

#include "api/call.h"
#include "common/file_util.h"
#include "http/errors.h"

namespace embedrec::api {
using http::PathParams;
using http::Request;

void RegisterWebRoutes(http::Router& router, const PlatformDeps& deps) {
  auto script = std::make_shared<const StatusOr<std::string>>(ReadWholeFile(deps.web_dir + "/widget.js"));
  if (!script->ok()) {
    spdlog::warn("no widget script in {} (make build builds it): GET /widget.js answers 404", deps.web_dir);
  }
  http::RouteInfo widget{"GET", "/widget.js",
                         "The recommendation widget for a shop's pages: one <script> tag, then "
                         "new RecommendationWidget(apiKey, tenantId)",
                         "widget", http::Role::kGateway, false};
  widget.blocking = false;
  widget.replies = {{.status = 200, .description = "the widget's script", .media = "application/javascript"}};
  widget.errors = {404};
  AddPublic(router, widget, [script](const Request&, const PathParams&) -> StatusOr<http::Response> {
    if (!script->ok()) return Status::NotFound("the widget is not built on this server (make build builds it)");
    http::Response r;
    r.content_type = "application/javascript; charset=utf-8";
    r.body = **script;
    // Any page may load it (a script tag needs no CORS; module imports do).
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    r.headers.emplace_back("Cache-Control", "public, max-age=300");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  });
}

}  // namespace embedrec::api
