// What browsers load from the gateway: the widget's script for a shop's
// pages (GET /widget.js, the IIFE build of web/widget) and the admin console
// (GET / and /assets/*, the build of web/console), with security headers
// (CSP, no framing). Built by `make build` (npm) into the web directory,
// read once at start.
#include <spdlog/spdlog.h>

#include <zlib.h>

#include <filesystem>
#include <map>
#include <optional>

#include "api/call.h"
#include "api/schemas.h"
#include "common/file_util.h"
#include "http/errors.h"

namespace embedrec::api {
using http::PathParams;
using http::Request;

namespace {

// A file as served: its bytes, and gzipped once at start for the browsers
// that accept it (the console's script shrinks ~2.4×).
struct Asset {
  std::string plain, gzipped;
};

std::string Gzip(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

Asset AssetOf(std::string bytes) {
  Asset a;
  a.gzipped = Gzip(bytes);
  a.plain = std::move(bytes);
  return a;
}

// `asset` as this request gets it: gzipped when the client accepts it.
http::Response Answer(const Request& req, const Asset& asset, std::string content_type, const char* cache_control) {
  http::Response r;
  r.content_type = std::move(content_type);
  const bool gzip = !asset.gzipped.empty() && req.Header("accept-encoding").find("gzip") != std::string_view::npos;
  r.body = gzip ? asset.gzipped : asset.plain;
  if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.emplace_back("Cache-Control", cache_control);
  return r;
}

// The console's files by name ("index.html", "assets/index-1a2b.js").
using Files = std::map<std::string, Asset, std::less<>>;

Files ReadConsole(const std::string& dir) {
  Files out;
  std::error_code ec;
  for (const auto& name : {std::string("index.html")}) {
    if (auto f = ReadWholeFile(dir + "/" + name); f.ok()) out[name] = AssetOf(std::move(f).value());
  }
  for (std::filesystem::directory_iterator it(dir + "/assets", ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (auto f = ReadWholeFile(it->path().string()); f.ok()) {
      out["assets/" + it->path().filename().string()] = AssetOf(std::move(f).value());
    }
  }
  return out;
}

std::string TypeOf(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "application/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

// The console's pages may only load their own scripts and talk to this
// server; nobody may frame them.
void SecurityHeaders(http::Response& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                         "img-src 'self' data: http: https:; connect-src 'self'; frame-ancestors 'none'; "
                         "base-uri 'none'; form-action 'self'; object-src 'none'");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

void RegisterWebRoutes(http::Router& router, const PlatformDeps& deps) {
  auto console = std::make_shared<const Files>(ReadConsole(deps.web_dir + "/console"));
  if (!console->count("index.html")) {
    spdlog::warn("no console in {}/console (make build builds it): GET / answers 404", deps.web_dir);
  }
  http::RouteInfo home{"GET", "/", "The admin console (sign in, keys, data, training, models, dashboard)",
                       "console", http::Role::kGateway, false};
  home.blocking = false;
  home.replies = {{.status = 200, .description = "the console's page", .media = "text/html"}};
  home.errors = {404};
  AddPublic(router, home, [console](const Request& req, const PathParams&) -> StatusOr<http::Response> {
    auto it = console->find("index.html");
    if (it == console->end()) return Status::NotFound("the console is not built on this server (make build builds it)");
    http::Response r = Answer(req, it->second, TypeOf(it->first), "no-cache");
    SecurityHeaders(r);
    return r;
  });
  http::RouteInfo asset{"GET", "/assets/{file}", "The console's scripts and styles", "console",
                        http::Role::kGateway, false};
  asset.blocking = false;
  asset.params = {schema::Path("file", 200, "a file of the console's build")};
  asset.replies = {{.status = 200, .description = "the file", .media = "application/octet-stream"}};
  asset.errors = {404};
  AddPublic(router, asset, [console](const Request& req, const PathParams& p) -> StatusOr<http::Response> {
    auto it = console->find("assets/" + p.Get("file"));
    if (it == console->end()) return Status::NotFound("no console file '" + p.Get("file") + "'");
    http::Response r = Answer(req, it->second, TypeOf(it->first), "public, max-age=31536000, immutable");  // hashed names
    SecurityHeaders(r);
    return r;
  });

  auto read = ReadWholeFile(deps.web_dir + "/widget.js");
  auto script = std::make_shared<const std::optional<Asset>>(
      read.ok() ? std::optional<Asset>(AssetOf(std::move(read).value())) : std::nullopt);
  if (!*script) {
    spdlog::warn("no widget script in {} (make build builds it): GET /widget.js answers 404", deps.web_dir);
  }
  http::RouteInfo widget{"GET", "/widget.js",
                         "The recommendation widget for a shop's pages: one <script> tag, then "
                         "new RecommendationWidget(apiKey, tenantId)",
                         "widget", http::Role::kGateway, false};
  widget.blocking = false;
  widget.replies = {{.status = 200, .description = "the widget's script", .media = "application/javascript"}};
  widget.errors = {404};
  AddPublic(router, widget, [script](const Request& req, const PathParams&) -> StatusOr<http::Response> {
    if (!*script) return Status::NotFound("the widget is not built on this server (make build builds it)");
    http::Response r = Answer(req, **script, "application/javascript; charset=utf-8", "public, max-age=300");
    // Any page may load it (a script tag needs no CORS; module imports do).
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  });
}

}  // namespace embedrec::api
