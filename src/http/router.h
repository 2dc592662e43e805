// Maps (method, path) to a route. Patterns are literal segments and
// `{name}` parameters ("/api/v1/admin/tenants/{id}"). The route table is
// also the source of the OpenAPI document, so the two cannot drift.
//
// Thread safety: Add during start-up only; Find is safe concurrently after.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

namespace embedrec::http {

// Which service a route belongs to (the seed's ports). The gateway serves every route.
enum class Role { kSystem, kGateway, kMlEngine, kDataPipeline };
std::string_view RoleName(Role r);  // "system", "gateway", "ml", "pipeline"

class PathParams {
 public:
  void Add(std::string name, std::string value) { v_.emplace_back(std::move(name), std::move(value)); }
  // REQUIRES: the route's pattern has {name}.
  const std::string& Get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return v_; }

 private:
  std::vector<std::pair<std::string, std::string>> v_;
};

using Handler = std::function<Response(const Request&, const PathParams&)>;

// The declared contract of a route (http/declared.h checks requests against
// it; http/openapi.h documents it). Schemas are JSON Schema text, the
// OpenAPI 3.0 subset common/json_schema.h checks.
struct Param {
  enum class In { kPath, kQuery, kHeader };
  std::string name;
  In in = In::kQuery;
  std::string schema = R"({"type":"string"})";
  bool required = false;
  std::string description;
};
struct Reply {
  int status = 200;
  std::string description;
  std::string schema;  // of the JSON body; empty: not described (or no body)
  std::string media = "application/json";
};

struct RouteInfo {
  std::string method;
  std::string pattern;
  std::string summary;       // one line for the OpenAPI document
  std::string tag;           // OpenAPI tag ("tenants", "auth", ...)
  Role role = Role::kGateway;
  bool authenticated = true; // needs a bearer token (documented as such)
  uint64_t body_limit = 0;   // 0: the server default
  // Called from shops' web pages on other origins (CORS): a preflight
  // (OPTIONS) is answered; the origin of each call is checked against the
  // tenant's allowed origins (api/tenant_routes.h).
  bool browser = false;
  bool blocking = true;      // may block on I/O: runs on the worker pool
  bool stream_body = false;  // handler reads Request::body_stream (uploads); implies blocking
  // For a blocking route: true when this request's handler will find all it
  // needs in memory (cached credentials, settings, an open store), so it may
  // run on the network thread and save two thread hops. Called on the
  // network thread: must not block.
  std::function<bool(const Request&)> inline_if;
  // May take long (a report, a full scan, loading a model): runs in the slow
  // lane — a pool of its own, one such request per tenant at a time, at a
  // lower CPU priority — so it never holds the workers other tenants'
  // requests need. (stream_body routes have a pool of their own too.)
  bool slow = false;
  // For a route that is fast once its tenant's state is in memory: true
  // when this request would load it (the first after a start or an upload),
  // so it goes to the slow lane. Called on the network thread with the
  // caller's tenant (empty when not known yet): must not block.
  std::function<bool(const Request&, const std::string& tenant_id)> slow_if;
  // The contract. Path parameters not declared are non-empty strings.
  std::vector<Param> params;
  std::string body_schema;               // a JSON object body's schema; empty: no JSON body
  std::vector<std::string> body_media;   // a body of another kind (uploads: multipart/form-data, text/csv)
  std::vector<Reply> replies;            // its answers on success (none declared: 200)
  std::vector<int> errors;               // the error statuses it may give
};

struct Route {
  RouteInfo info;
  std::vector<std::string> segments;  // pattern split on '/'
  Handler handler;
};

class Router {
 public:
  enum class Outcome { kFound, kMethodNotAllowed, kNotFound };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Route* route = nullptr;
    PathParams params;
    std::vector<std::string> allowed;  // for kMethodNotAllowed
  };

  // Aborts on a duplicate (method, pattern): a programming error.
  void Add(RouteInfo info, Handler handler);
  // `path` as sent (percent-encoded: "%2F" inside an id stays in its
  // segment); the parameters come back decoded.
  Match Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace embedrec::http
