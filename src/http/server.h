// The HTTP/1.1 server: listeners and sessions over Boost.Beast. The only
// place that includes Beast or Asio.
//
// Each connection reads a header, asks the RequestHandler for the route's
// body policy (limit: 413 before reading a body that is too large; stream:
// hand the body over as a BodyStream instead of reading it first), reads the
// body unless streamed, and hands a plain Request to the handler. Keep-alive; one request at a time
// per connection; timeouts on idle, slow-reading and slow-writing clients.
//
// Thread safety: Start and Shutdown from one controlling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/request.h"

namespace embedrec::http {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  struct BodyPolicy {
    uint64_t limit = 0;   // bytes; larger bodies get 413
    bool stream = false;  // hand the body over as a BodyStream instead of reading it first
  };
  // Called on a network thread after the header arrives; must not block.
  virtual BodyPolicy BodyPolicyFor(std::string_view method, std::string_view target) const = 0;
  // Called on a network thread; must not block. `done` must be called exactly
  // once, from any thread.
  virtual void Handle(Request req, std::function<void(Response)> done) = 0;
};

struct ListenerSpec {
  std::string name;  // copied into Request::listener
  int port = 0;      // 0: the OS picks one (see Server::ports())
};

struct ServerOptions {
  std::string bind = "127.0.0.1";
  std::vector<ListenerSpec> listeners;
  int threads = 2;
  std::chrono::seconds idle_timeout{75};    // keep-alive connection with no request
  std::chrono::seconds read_timeout{60};    // to receive one whole request
  std::chrono::seconds write_timeout{60};   // to send one whole response
  // A streamed body (an upload) must come at this average rate, counted over
  // the time spent waiting for the client once `min_body_rate_after` of it
  // has passed: a client trickling bytes cannot hold a connection and an
  // upload worker for hours (each read's own limit is read_timeout).
  int64_t min_body_bytes_per_second = 1024;
  std::chrono::seconds min_body_rate_after{10};
  uint32_t header_limit = 16 * 1024;
  // A network thread that runs nothing for this long (a handler blocked on
  // it: they must never block) is counted and logged with its stack
  // (common/watchdog.h); 0: not watched.
  std::chrono::milliseconds stall_warning{500};
  std::string server_header = "embedrec";
};

class Server {
 public:
  virtual ~Server() = default;
  // The bound ports, in the order of options.listeners.
  virtual std::vector<int> ports() const = 0;
  // Requests being handled right now.
  virtual int64_t in_flight() const = 0;
  // Times a network thread was found stalled (ServerOptions::stall_warning).
  virtual int64_t stalls() const = 0;
  // Each open connection's state, one line each ("#<id> <phase> ..."), for
  // diagnostics (the socket fuzzer prints it when a connection stalls).
  virtual std::string DescribeConnections() const = 0;
  // Stops accepting, closes idle connections, lets in-flight requests finish
  // (up to `grace`), then stops the network threads. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;
};

// Binds every listener and starts the network threads.
// kUnavailable when a port cannot be bound (with the port in the message).
StatusOr<std::unique_ptr<Server>> StartServer(const ServerOptions& options,
                                              RequestHandler* handler);

}  // namespace embedrec::http
