// Plain HTTP request and response values. Handlers take a Request and return
// a Response; they never see a socket, so they are tested without a network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/byte_source.h"
#include "common/status.h"

namespace embedrec::http {

// A request body read as it arrives (routes declared with stream_body), so a
// 1 GiB upload never sits in memory whole.
//
// Thread safety: one reader thread at a time; Read blocks, so call it from a
// worker thread, never a network thread.
//
// Read errors: kPayloadTooLarge past the route's limit; kInvalidArgument for a
// malformed (chunked) body; kUnavailable when the client stalls or disconnects.
class BodyStream : public ByteSource {};

using Fields = std::vector<std::pair<std::string, std::string>>;

// The network thread a request's connection is served on. A deferred answer
// (Later) whose work would otherwise wait for a worker can run it there.
class ConnectionThread {
 public:
  virtual ~ConnectionThread() = default;
  // Runs `fn` on that thread: at once when called on it, else posted.
  virtual void Run(std::function<void()> fn) = 0;
};

struct Request {
  std::string method;       // "GET", "POST", ...
  std::string target;       // as sent: "/api/v1/x?limit=5"
  std::string path;         // percent-decoded path: "/api/v1/x"
  std::string encoded_path;  // as sent: routes match it segment by segment, so "%2F" stays inside one
  Fields query;             // percent-decoded query parameters, in order
  Fields headers;           // names lowercased
  std::string body;                        // empty for streaming routes
  std::shared_ptr<BodyStream> body_stream;  // set for streaming routes only
  std::string request_id;   // set by the server (client's X-Request-Id when sane)
  std::string remote_addr;
  std::string listener;     // which port's role received it: "gateway", "ml", "pipeline"
  std::shared_ptr<ConnectionThread> connection_thread;  // set by the server; null without one (tests)

  // Value of header `name_lower`, or "" when absent.
  std::string_view Header(std::string_view name_lower) const;
  // Value of query parameter `name`, or nullopt.
  std::optional<std::string> Query(std::string_view name) const;
};

// A response body sent as it is produced (Server-Sent Events): the header
// goes out at once with chunked encoding, then every Write as a chunk, until
// Close; the connection closes after it.
//
// Thread safety: every method may be called from any thread and never blocks.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues bytes for the client. False once the stream has ended (client
  // gone, server stopping, or too much unsent): stop producing.
  virtual bool Write(std::string bytes) = 0;
  // Ends the body after what is queued. Idempotent.
  virtual void Close() = 0;
  // `fn` runs once when the stream ends for any reason, on a network thread
  // (never inside Write or Close); release the producer there. Runs at once
  // (on a network thread) when the stream has ended already.
  virtual void OnEnd(std::function<void()> fn) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Fields headers;
  std::string body;
  // A deferred answer: when set, the fields above are ignored and `later`
  // is called once, at once, with the function that sends the real answer.
  // That function may be called from any thread, exactly once. Lets a
  // handler give its worker back while it waits (e.g. for a group commit).
  std::function<void(std::function<void(Response)>)> later;
  // A streamed body: when set, `body` is ignored; the header (status,
  // content_type, headers) is sent, then `stream` is called once with the
  // stream to write the body to. `heartbeat` (if not empty) is written every
  // 15 s while nothing else is (e.g. an SSE comment keeping proxies open).
  std::function<void(std::shared_ptr<ResponseStream>)> stream;
  std::string heartbeat;
};

// A deferred answer (see Response::later).
Response Later(std::function<void(std::function<void(Response)>)> start);

// Splits `target` into a decoded path and query. False when `target` is not a
// valid origin-form request target (e.g. bad percent-encoding).
// `encoded_path` (may be null) receives the path as sent.
bool ParseTarget(std::string_view target, std::string* path, Fields* query, std::string* encoded_path = nullptr);
// A valid percent-encoded path segment, decoded ("SKU%2F1" → "SKU/1").
std::string DecodeSegment(std::string_view segment);

}  // namespace embedrec::http
