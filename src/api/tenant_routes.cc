#include "api/tenant_routes.h"

#include "limits/limit_store.h"

#include <bit>
#include <boost/json.hpp>
#include <chrono>
#include <unordered_map>

#include "analytics/analytics.h"
#include "api/json_body.h"
#include "auth/authenticator.h"
#include "common/strings.h"
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

// Who a call was counted for (analytics): set once the tenant is resolved;
// and the web origin its answer may be read from (CORS), if any.
struct Caller {
  std::string tenant_id, key_id;
  std::string cors_origin;
};

// Whether `origin` is the server's own (the console's pages).
bool SameOrigin(const http::Request& req, std::string_view origin) {
  const std::string_view host = req.Header("host");
  if (host.empty()) return false;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() == scheme.size() + host.size() && origin.substr(0, scheme.size()) == scheme &&
        origin.substr(scheme.size()) == host) {
      return true;
    }
  }
  return false;
}

// A browser route called from a web page of another origin: the origin must
// be one of the tenant's allowed_origins ("*": any, for publishable keys).
// A publishable key works only so, and only on browser routes.
Status CheckOrigin(const TenantServices* s, const auth::Principal& who, const std::string& tenant_id,
                   bool browser, const http::Request& req, Caller* caller) {
  const std::string_view origin = req.Header("origin");
  if (!browser) {
    if (who.publishable) {
      return Status::PermissionDenied("a publishable key may call the recommendation and interaction routes only")
          .WithReason("publishable_key");
    }
    return Status::Ok();
  }
  if (origin.empty() || SameOrigin(req, origin)) {
    if (who.publishable) {
      return Status::PermissionDenied("a publishable key is accepted only from web pages of the tenant's "
                                      "settings.allowed_origins (use a secret key on a server)")
          .WithReason("publishable_key");
    }
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(TenantRules rules, s->settings->Rules(tenant_id));
  const std::string lower = AsciiLower(std::string(origin));
  if (!rules.allowed_origins.count(lower) && !(who.publishable && rules.allowed_origins.count("*"))) {
    return Status::PermissionDenied("origin '" + std::string(origin.substr(0, 200)) +
                                    "' is not in the tenant's settings.allowed_origins")
        .WithReason("origin_not_allowed");
  }
  caller->cors_origin = std::string(origin);
  return Status::Ok();
}

// The answer readable by the page that asked (when its origin is allowed).
void AllowOrigin(http::Response& res, const std::string& origin) {
  if (origin.empty()) return;
  res.headers.emplace_back("Access-Control-Allow-Origin", origin);
  res.headers.emplace_back("Vary", "Origin");
}

// The 429 of a bucket that refused: its rate, whose it is, and when to retry.
Status RateLimited(const limits::BucketPolicy& policy, const std::string& whose, int64_t retry_after_ms) {
  char rate[64];
  std::snprintf(rate, sizeof(rate), "%g requests per second (burst %g)", policy.per_second, policy.burst);
  return Status::ResourceExhausted(std::string("rate limit reached: ") + rate + " for " + whose +
                                       "; retry after the time in Retry-After",
                                   {{"retry_after_seconds", std::to_string((retry_after_ms + 999) / 1000)},
                                    {"requests_per_second", std::to_string(policy.per_second)},
                                    {"limit", whose}})
      .WithReason("rate_limited");
}

// 429 when the tenant as a whole is over its settings.limits rate (the
// platform admin's), or the caller's key (or signed-in user) over the
// tenant's own settings.rate_limit. The platform admin is never limited; a
// limits store that cannot answer lets the request through (its fallback
// counts per node).
Status CheckRate(const TenantServices* s, const auth::Principal& who, const std::string& tenant_id) {
  if (!s->limits || who.kind == auth::Principal::Kind::kPlatformAdmin) return Status::Ok();
  auto rules = s->settings->Rules(tenant_id);
  if (!rules.ok()) return Status::Ok();
  const int64_t now = s->clock->NowMillis();
  if (const auto& l = rules->limits; l.requests_per_second > 0) {
    const limits::BucketPolicy policy{l.requests_per_second, std::max(1.0, l.burst)};
    auto taken = s->limits->Take("rate:tenant:" + tenant_id, policy, now);
    if (taken.ok() && !taken->allowed()) return RateLimited(policy, "this tenant", taken->retry_after_ms);
  }
  if (rules->rate_limit.per_second <= 0) return Status::Ok();
  const bool key = who.kind == auth::Principal::Kind::kApiKey;
  auto taken = s->limits->Take("rate:" + tenant_id + ":" + (key ? who.key_id : who.user_id), rules->rate_limit, now);
  if (!taken.ok() || taken->allowed()) return Status::Ok();
  return RateLimited(rules->rate_limit, key ? "this API key" : "this user", taken->retry_after_ms);
}

// Authenticates, checks `needs`, parses the body when asked and resolves
// the tenant, in that order (the first failure is the answer).
StatusOr<http::Response> Serve(const TenantServices* s, const http::Declared& declared, Needs needs,
                               bool json_body, bool browser, const TenantRoutes::JsonFn& fn,
                               const http::Request& req, const http::PathParams& params, Caller* caller) {
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
  RETURN_IF_ERROR(CheckRate(s, who, tenant_id));
  RETURN_IF_ERROR(CheckOrigin(s, who, tenant_id, browser, req, caller));
  TenantContext ctx(s, std::move(who), std::move(tenant_id));
  return fn(req, params, ctx, body);
}

}  // namespace

http::Handler TenantRoutes::Wrap(const http::RouteInfo& info, Needs needs, bool json_body, JsonFn fn) const {
  auto declared = std::make_shared<const http::Declared>(http::Declared::Compile(info));
  const std::string route = info.method + " " + info.pattern;
  return [s = services_, declared, needs, json_body, browser = info.browser, fn = std::move(fn), route](
             const http::Request& req, const http::PathParams& params) {
    const auto start = std::chrono::steady_clock::now();
    Caller caller;
    auto served = Serve(s.get(), *declared, needs, json_body, browser, fn, req, params, &caller);
    http::Response res =
        served.ok() ? std::move(served).value() : http::ErrorResponse(served.status(), req.request_id);
    AllowOrigin(res, caller.cors_origin);
    if (res.later && !caller.cors_origin.empty()) {
      res.later = [later = std::move(res.later), origin = caller.cors_origin](
                      std::function<void(http::Response)> send) {
        later([send = std::move(send), origin](http::Response answer) {
          AllowOrigin(answer, origin);
          send(std::move(answer));
        });
      };
    }
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
