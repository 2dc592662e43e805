// Routes requests to handlers: target parsing, 404/405, which port serves
// which route, the worker pool for blocking routes, per-route metrics and a
// last-resort catch so that no exception escapes into the network layer.
//
// Thread safety: safe for concurrent use once constructed.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "common/metrics.h"
#include "common/fair_pool.h"
#include "http/router.h"
#include "http/server.h"

namespace embedrec::http {

class Dispatcher final : public RequestHandler {
 public:
  struct Options {
    uint64_t default_body_limit = 256 * 1024;
    // The worker queue a request waits in (the caller's tenant), computed on
    // the network thread, so it must not block. Null: one shared queue.
    std::function<std::string(const Request&)> queue_key;
  };
  // Where handlers run. `workers` runs the blocking routes; `slow` the slow
  // ones (RouteInfo::slow, slow_if); `streams` the routes that read their
  // body as it arrives (uploads: they wait on the client's network, not on
  // the CPU, so they never queue behind a tenant's report). Null: `workers`.
  struct Pools {
    FairThreadPool* workers = nullptr;
    FairThreadPool* slow = nullptr;
    FairThreadPool* streams = nullptr;
  };
  // `router`, the pools and `metrics` must outlive the dispatcher.
  Dispatcher(const Router* router, Pools pools, MetricsRegistry* metrics, Options options);

  BodyPolicy BodyPolicyFor(std::string_view method, std::string_view target) const override;
  void Handle(Request req, std::function<void(Response)> done) override;

  // Handles synchronously on the calling thread (tests, and inline routes).
  Response HandleNow(Request& req);

 private:
  // Parses the target and finds the route; on failure `error` holds the answer.
  struct Resolved {
    const Route* route = nullptr;
    PathParams params;
    std::optional<Response> error;
  };
  Resolved Resolve(Request& req) const;
  // The answer to a CORS preflight (OPTIONS with Origin and
  // Access-Control-Request-Method): 204 for a browser route, else 403.
  Response Preflight(const Request& req) const;
  // Runs the handler and calls `done` with its answer (later, for a
  // deferred one), after recording metrics.
  void Run(const Route& route, const PathParams& params, Request& req,
           std::function<void(Response)> done);

  std::atomic<int64_t> in_flight_{0};
  const Router* router_;
  FairThreadPool* workers_;
  FairThreadPool* slow_lane_;
  FairThreadPool* streams_;
  MetricsRegistry* metrics_;
  Options options_;
};

}  // namespace embedrec::http
