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
#include "common/thread_pool.h"
#include "http/router.h"
#include "http/server.h"

namespace embedrec::http {

class Dispatcher final : public RequestHandler {
 public:
  struct Options {
    uint64_t default_body_limit = 256 * 1024;
  };
  // `router`, `workers` and `metrics` must outlive the dispatcher.
  Dispatcher(const Router* router, ThreadPool* workers, MetricsRegistry* metrics, Options options);

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
  Response Run(const Route& route, const PathParams& params, Request& req);

  std::atomic<int64_t> in_flight_{0};
  const Router* router_;
  ThreadPool* workers_;
  MetricsRegistry* metrics_;
  Options options_;
};

}  // namespace embedrec::http
