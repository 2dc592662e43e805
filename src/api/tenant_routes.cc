#include "api/tenant_routes.h"

#include <bit>
#include <boost/json.hpp>
#include <chrono>
#include <unordered_map>

#include "analytics/analytics.h"
#include "api/json_body.h"
#include "auth/authenticator.h"
#include "http/declared.h"
#include "http/errors.h"
#include "serving/recommender.h"

namespace embedrec::api {

TenantRoutes::TenantRoutes(http::Router* router, TenantServices services)
    : router_(router), services_(std::make_shared<const TenantServices>(std::move(services))) {}

namespace {

constexpr const char* kTenantIdHelp = "the tenant to act on: the platform admin names one; a tenant's credential "
                                      "may name only its own";

void DeclareTenantParam(http::RouteInfo& info) {
  info.params.push_back({.name = "tenant_id",
                         .in = http::Param::In::kQuery,
                         .schema = R"({"type":"string","maxLength":64})",
                         .description = kTenantIdHelp});
}

// The body schema with a tenant_id property.
std::string WithTenantProperty(const std::string& schema_text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(schema_text.empty() ? R"({"type":"object"})" : schema_text, ec);
  if (ec || !v.is_object()) return schema_text;  // Declared::Compile reports it
  boost::json::object& o = v.as_object();
  boost::json::value& props = o["properties"];
  if (!props.is_object()) props = boost::json::object();
  if (!props.as_object().contains("tenant_id")) {
    props.as_object()["tenant_id"] =
        boost::json::object{{"type", "string"}, {"maxLength", 64}, {"description", kTenantIdHelp}};
  }
  return boost::json::serialize(v);
}

}  // namespace

void TenantRoutes::Add(http::RouteInfo info, Needs needs, Fn fn) {
  DeclareTenantParam(info);
  auto handler = Wrap(info, needs, false,
                      [fn = std::move(fn)](const http::Request& req, const http::PathParams& p,
                                           TenantContext& ctx, const boost::json::object&) { return fn(req, p, ctx); });
  router_->Add(std::move(info), std::move(handler));
}

void TenantRoutes::AddJson(http::RouteInfo info, Needs needs, JsonFn fn) {
  DeclareTenantParam(info);
  info.body_schema = WithTenantProperty(info.body_schema);
  auto handler = Wrap(info, needs, true, std::move(fn));
  router_->Add(std::move(info), std::move(handler));
}

namespace {

Status Check(const auth::Principal& who, Needs needs) {
  if (needs.all != 0) RETURN_IF_ERROR(who.Require(needs.all));
  if (needs.any != 0 && (who.permissions & needs.any) == 0) {
    return who.Require(std::bit_floor(needs.any));
  }
  return Status::Ok();
}

// Who a call was counted for (analytics): set once the tenant is resolved.
struct Caller {
  std::string tenant_id, key_id;
};

// Authenticates, checks `needs`, parses the body when asked and resolves
// the tenant, in that order (the first failure is the answer).
StatusOr<http::Response> Serve(const TenantServices* s, const http::Declared& declared, Needs needs,
                               bool json_body, const TenantRoutes::JsonFn& fn, const http::Request& req,
                               const http::PathParams& params, Caller* caller) {
  ASSIGN_OR_RETURN(auth::Principal who, s->authenticator->Authenticate(req.Header("authorization")));
  RETURN_IF_ERROR(Check(who, needs));
  RETURN_IF_ERROR(declared.CheckParams(req, params));
  boost::json::object body;
  std::optional<std::string> named;
  if (json_body) {
    ASSIGN_OR_RETURN(body, declared.Body(req));
    ASSIGN_OR_RETURN(named, OptString(body, "tenant_id", 64));
  }
  if (!named) named = req.Query("tenant_id");
  ASSIGN_OR_RETURN(std::string tenant_id, who.ResolveTenant(named.value_or("")));
  caller->tenant_id = tenant_id;
  caller->key_id = who.key_id;
  TenantContext ctx(s, std::move(who), std::move(tenant_id));
  return fn(req, params, ctx, body);
}

}  // namespace

http::Handler TenantRoutes::Wrap(const http::RouteInfo& info, Needs needs, bool json_body, JsonFn fn) const {
  auto declared = std::make_shared<const http::Declared>(http::Declared::Compile(info));
  const std::string route = info.method + " " + info.pattern;
  return [s = services_, declared, needs, json_body, fn = std::move(fn), route](const http::Request& req,
                                                                               const http::PathParams& params) {
    const auto start = std::chrono::steady_clock::now();
    Caller caller;
    auto served = Serve(s.get(), *declared, needs, json_body, fn, req, params, &caller);
    http::Response res =
        served.ok() ? std::move(served).value() : http::ErrorResponse(served.status(), req.request_id);
    if (!s->analytics || caller.tenant_id.empty()) return res;
    // Counted for the tenant once answered (a deferred answer when it is sent).
    auto since = [start] {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    if (!res.later) {
      s->analytics->Call(caller.tenant_id, caller.key_id, route, res.status, since());
      return res;
    }
    auto count = [s, route, since, caller = std::move(caller)](int status) {
      s->analytics->Call(caller.tenant_id, caller.key_id, route, status, since());
    };
    res.later = [later = std::move(res.later), count](std::function<void(http::Response)> send) {
      later([send = std::move(send), count](http::Response answer) {
        count(answer.status);
        send(std::move(answer));
      });
    };
    return res;
  };
}

std::function<bool(const http::Request&, const std::string&)> TenantRoutes::ServingCold() const {
  // A tenant found warm is not asked again for a second (per network
  // thread: no shared lock on the hot path).
  return [s = services_](const http::Request&, const std::string& tid) {
    if (tid.empty() || !s->recommender) return false;
    thread_local std::unordered_map<std::string, std::chrono::steady_clock::time_point> warm_until;
    const auto now = std::chrono::steady_clock::now();
    if (auto it = warm_until.find(tid); it != warm_until.end() && it->second > now) return false;
    if (!s->recommender->Warm(tid)) return true;
    if (warm_until.size() > 10000) warm_until.clear();
    warm_until[tid] = now + std::chrono::seconds(1);
    return false;
  };
}

std::function<bool(const http::Request&)> TenantRoutes::AllInMemory() const {
  return [s = services_](const http::Request& req) {
    std::string tid = s->authenticator->CachedTenant(req.Header("authorization"), /*complete=*/true);
    return !tid.empty() && s->settings->IsFresh(tid) && s->stores->IsOpen(tid);
  };
}

}  // namespace embedrec::api
