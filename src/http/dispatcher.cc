#include "http/dispatcher.h"

#include <future>

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

#include "http/declared.h"
#include "http/errors.h"

namespace embedrec::http {

Dispatcher::Dispatcher(const Router* router, Pools pools, MetricsRegistry* metrics, Options options)
    : router_(router), workers_(pools.workers), slow_lane_(pools.slow ? pools.slow : pools.workers),
      streams_(pools.streams ? pools.streams : pools.workers), metrics_(metrics), options_(options) {
  metrics_->Declare("embedrec_http_slow_lane_total", MetricsRegistry::Type::kCounter,
                    "Requests run in the slow lane, by route pattern.");
  metrics_->Declare("embedrec_http_refused_in_flight_total", MetricsRegistry::Type::kCounter,
                    "Requests refused (429) because their tenant had too many in progress.");
  metrics_->Declare("embedrec_http_requests_total", MetricsRegistry::Type::kCounter,
                    "HTTP requests by route pattern, method and status.");
  metrics_->Declare("embedrec_http_request_duration_seconds", MetricsRegistry::Type::kHistogram,
                    "Time from a request's arrival to its answer, by route pattern.");
  metrics_->Declare("embedrec_http_slow_requests_total", MetricsRegistry::Type::kCounter,
                    "Requests answered at least the slow-request time after they arrived (logged), by route pattern.");
  metrics_->DeclareGaugeFunction("embedrec_http_requests_in_flight",
                                 "Requests being handled right now.",
                                 [this] { return double(in_flight_.load()); });
}

RequestHandler::BodyPolicy Dispatcher::BodyPolicyFor(std::string_view method,
                                                     std::string_view target) const {
  auto m = router_->Find(method, target.substr(0, target.find('?')));
  BodyPolicy p{options_.default_body_limit, false};
  if (m.outcome == Router::Outcome::kFound) {
    if (m.route->info.body_limit > 0) p.limit = m.route->info.body_limit;
    p.stream = m.route->info.stream_body;
  }
  return p;
}

namespace {
// Whether `route` answers on a port with role `listener`. The gateway answers all.
bool ServedOn(const Route& route, std::string_view listener) {
  return listener.empty() || listener == "gateway" || route.info.role == Role::kSystem ||
         RoleName(route.info.role) == listener;
}
}  // namespace

void Dispatcher::Run(const Route& route, const PathParams& params, Request& req,
                     std::function<void(Response)> done, Time arrived) {
  const Time start = std::chrono::steady_clock::now();
  Response res;
  try {
    res = route.handler(req, params);
  } catch (const std::exception& e) {
    res = ErrorResponse(Status::Internal(std::string("unhandled exception: ") + e.what()),
                        req.request_id);
  } catch (...) {
    res = ErrorResponse(Status::Internal("unhandled non-standard exception"), req.request_id);
  }
  const Time returned = std::chrono::steady_clock::now();
  const bool deferred = static_cast<bool>(res.later);
  auto complete = [this, &route, arrived, start, returned, deferred, done = std::move(done)](
                      Response res, const std::string& request_id) {
    const Time answered = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(answered - arrived).count();
    std::string status = std::to_string(res.status);
    const std::string& pattern = route.info.pattern;
    metrics_->Inc("embedrec_http_requests_total",
                  {{"route", pattern}, {"method", route.info.method}, {"status", status}});
    metrics_->Observe("embedrec_http_request_duration_seconds", {{"route", pattern}}, secs);
    // An upload's time is its client's network's (it reads the body as it comes): not logged.
    if (options_.slow_request.count() > 0 && !route.info.stream_body && answered - arrived >= options_.slow_request) {
      LogSlow(route, request_id, res.status, arrived, start, returned, answered, deferred);
    }
    done(std::move(res));  // a HEAD's body is dropped by the server, its length kept
  };
  if (!deferred) return complete(std::move(res), req.request_id);
  auto later = std::move(res.later);
  // The request is gone by the time a deferred answer comes: its id goes along.
  later([complete = std::move(complete), id = req.request_id](Response res) mutable {
    complete(std::move(res), id);
  });
}

void Dispatcher::LogSlow(const Route& route, const std::string& request_id, int status, Time arrived,
                         Time started, Time returned, Time answered, bool deferred) {
  metrics_->Inc("embedrec_http_slow_requests_total", {{"route", route.info.pattern}});
  auto ms = [](Time a, Time b) { return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count(); };
  int unlogged = 0;
  {
    std::lock_guard lock(slow_mu_);
    const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(answered.time_since_epoch()).count();
    if (second != slow_second_) {
      slow_second_ = second;
      slow_lines_ = 0;
    }
    if (++slow_lines_ > kSlowLinesPerSecond) {
      ++slow_unlogged_;
      return;
    }
    std::swap(unlogged, slow_unlogged_);
  }
  spdlog::warn("slow request {}: {} {} answered {} after {} ms (waited {} ms for a worker, its handler ran {} ms{}){}",
               request_id, route.info.method, route.info.pattern, status, ms(arrived, answered),
               ms(arrived, started), ms(started, returned),
               deferred ? ", then " + std::to_string(ms(returned, answered)) + " ms until its deferred answer" : "",
               unlogged ? " (" + std::to_string(unlogged) + " more slow requests were not logged)" : "");
}

Dispatcher::Resolved Dispatcher::Resolve(Request& req) const {
  Resolved out;
  if (!ParseTarget(req.target, &req.path, &req.query, &req.encoded_path)) {
    out.error = ErrorResponse(Status::InvalidArgument("malformed request target"), req.request_id);
    return out;
  }
  if (req.method == "OPTIONS" && !req.Header("origin").empty() &&
      !req.Header("access-control-request-method").empty()) {
    out.error = Preflight(req);
    return out;
  }
  auto m = router_->Find(req.method, req.encoded_path);
  switch (m.outcome) {
    case Router::Outcome::kNotFound:
      metrics_->Inc("embedrec_http_requests_total",
                    {{"route", "unmatched"}, {"method", "other"}, {"status", "404"}});
      out.error = ErrorResponse(Status::NotFound("no route " + req.method + " " + req.path),
                                req.request_id);
      return out;
    case Router::Outcome::kMethodNotAllowed: {
      std::string allow;
      for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
      out.error = ErrorResponse(Status(StatusCode::kMethodNotAllowed,
                                       "method " + req.method + " is not allowed here; use " + allow,
                                       "method_not_allowed", {{"allowed", allow}}),
                                req.request_id);
      out.error->headers.emplace_back("Allow", allow);
      return out;
    }
    case Router::Outcome::kFound:
      break;
  }
  if (!ServedOn(*m.route, req.listener)) {
    out.error = ErrorResponse(
        Status::NotFound("route " + req.method + " " + m.route->info.pattern +
                         " is not served on the " + req.listener + " port; use the gateway port" +
                         (m.route->info.role == Role::kGateway
                              ? std::string()
                              : " or the " + std::string(RoleName(m.route->info.role)) + " port"))
            .WithReason("wrong_port"),
        req.request_id);
    return out;
  }
  // Every path parameter (an id, decoded) is one line of UTF-8 text, on
  // every route: nothing else is stored or echoed.
  for (const auto& [name, value] : m.params.all()) {
    if (Status s = CheckParamText(name, value); !s.ok()) {
      out.error = ErrorResponse(s, req.request_id);
      return out;
    }
  }
  out.route = m.route;
  out.params = std::move(m.params);
  return out;
}

Response Dispatcher::Preflight(const Request& req) const {
  // The browser asks before a cross-origin call with a bearer token. Any
  // origin is told yes for a browser route: nothing is read or done here,
  // and the call itself is checked against the tenant's allowed origins
  // (its credential names the tenant, which a preflight does not carry).
  const std::string method(req.Header("access-control-request-method"));
  auto m = router_->Find(method, req.encoded_path);
  if (m.outcome != Router::Outcome::kFound || !m.route->info.browser) {
    return ErrorResponse(Status::PermissionDenied("cross-origin calls are not accepted on " + method + " " +
                                                  req.path + "; a shop's pages may call the recommendation "
                                                  "and interaction routes")
                             .WithReason("cors_not_allowed"),
                         req.request_id);
  }
  Response r;
  r.status = 204;
  r.content_type.clear();
  r.headers.emplace_back("Access-Control-Allow-Origin", std::string(req.Header("origin")));
  r.headers.emplace_back("Access-Control-Allow-Methods", method);
  r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key");
  r.headers.emplace_back("Access-Control-Max-Age", "600");
  r.headers.emplace_back("Vary", "Origin");
  return r;
}

Response Dispatcher::HandleNow(Request& req) {
  Resolved r = Resolve(req);
  if (r.error) return std::move(*r.error);
  std::promise<Response> answer;
  Run(*r.route, r.params, req, [&answer](Response res) { answer.set_value(std::move(res)); },
      std::chrono::steady_clock::now());
  return answer.get_future().get();
}

void Dispatcher::Handle(Request req, std::function<void(Response)> done) {
  const Time arrived = std::chrono::steady_clock::now();
  in_flight_.fetch_add(1);
  auto finish = [this, done = std::move(done)](Response r) {
    in_flight_.fetch_sub(1);
    done(std::move(r));
  };
  // Routing is cheap and runs here, on the network thread; the handler runs
  // on a worker when the route may block.
  Resolved r = Resolve(req);
  if (r.error) return finish(std::move(*r.error));
  const RouteInfo& info = r.route->info;
  if (!info.stream_body && (!info.blocking || (info.inline_if && info.inline_if(req)))) {
    return Run(*r.route, r.params, req, std::move(finish), arrived);
  }
  std::string key = options_.queue_key ? options_.queue_key(req) : std::string();
  FairThreadPool* pool = workers_;
  if (info.stream_body) {
    pool = streams_;
  } else if (info.slow || (info.slow_if && info.slow_if(req, key))) {
    pool = slow_lane_;
    if (pool != workers_) metrics_->Inc("embedrec_http_slow_lane_total", {{"route", info.pattern}});
  }
  if (!Admit(key)) {
    metrics_->Inc("embedrec_http_refused_in_flight_total", {});
    return finish(ErrorResponse(
        Status(StatusCode::kResourceExhausted,
               "too many requests of this tenant are in progress (" + std::to_string(options_.max_in_flight_per_key) +
                   "); retry after the time in Retry-After",
               "too_many_in_flight", {{"retry_after_seconds", "1"}}),
        req.request_id));
  }
  auto release = [this, key, finish = std::move(finish)](Response res) {
    Release(key);
    finish(std::move(res));
  };
  pool->Post(key, [this, route = r.route, params = std::move(r.params), req = std::move(req),
                   release = std::move(release), arrived]() mutable {
    Run(*route, params, req, std::move(release), arrived);
  });
}

bool Dispatcher::Admit(const std::string& key) {
  if (options_.max_in_flight_per_key <= 0 || key.empty()) return true;
  std::lock_guard lock(keys_mu_);
  int& n = key_in_flight_[key];
  if (n >= options_.max_in_flight_per_key) return false;
  ++n;
  return true;
}

void Dispatcher::Release(const std::string& key) {
  if (options_.max_in_flight_per_key <= 0 || key.empty()) return;
  std::lock_guard lock(keys_mu_);
  if (auto it = key_in_flight_.find(key); it != key_in_flight_.end() && --it->second <= 0) key_in_flight_.erase(it);
}

}  // namespace embedrec::http
