// Routes requests to handlers: target parsing, 404/405, which port serves
// which route, the worker pool for blocking routes, per-route metrics and a
// last-resort catch so that no exception escapes into the network layer.
//
// Thread safety: safe for concurrent use once constructed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "common/metrics.h"
#include "common/fair_pool.h"
#include "http/router.h"
#include <mutex>
#include <unordered_map>

#include "http/server.h"

namespace embedrec::http {

class Dispatcher final : public RequestHandler {
 public:
  struct Options {
    uint64_t default_body_limit = 256 * 1024;
    // The worker queue a request waits in (the caller's tenant), computed on
    // the network thread, so it must not block. Null: one shared queue.
    std::function<std::string(const Request&)> queue_key;
    // One queue key's requests waiting for or running on a worker at once;
    // past it, 429 too_many_in_flight (Retry-After: 1) at once, so a tenant
    // flooding the server cannot queue without bound. 0: no limit. Requests
    // of no known key ("") and those run on the network thread are not counted.
    int max_in_flight_per_key = 0;
    // A request answered this long after it arrived is logged (its route,
    // status and where the time went: waiting for a worker, its handler,
    // its deferred answer) and counted; 0: not logged. Not uploads (their
    // time is their client's network's).
    std::chrono::milliseconds slow_request{1000};
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
  using Time = std::chrono::steady_clock::time_point;
  void Run(const Route& route, const PathParams& params, Request& req,
           std::function<void(Response)> done, Time arrived);
  // Logs a slow request (at most kSlowLinesPerSecond lines a second).
  void LogSlow(const Route& route, const std::string& request_id, int status, Time arrived, Time started,
               Time returned, Time answered, bool deferred);
  static constexpr int kSlowLinesPerSecond = 10;

  // Counts a queued request of `key`; false when the key is at its limit.
  bool Admit(const std::string& key);
  void Release(const std::string& key);

  std::atomic<int64_t> in_flight_{0};
  std::mutex slow_mu_;
  int64_t slow_second_ = 0;          // GUARDED_BY(slow_mu_): the second of the lines counted
  int slow_lines_ = 0, slow_unlogged_ = 0;  // GUARDED_BY(slow_mu_)
  std::mutex keys_mu_;
  std::unordered_map<std::string, int> key_in_flight_;
  const Router* router_;
  FairThreadPool* workers_;
  FairThreadPool* slow_lane_;
  FairThreadPool* streams_;
  MetricsRegistry* metrics_;
  Options options_;
};

}  // namespace embedrec::http
