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

struct Request {
  std::string method;       // "GET", "POST", ...
  std::string target;       // as sent: "/api/v1/x?limit=5"
  std::string path;         // percent-decoded path: "/api/v1/x"
  Fields query;             // percent-decoded query parameters, in order
  Fields headers;           // names lowercased
  std::string body;                        // empty for streaming routes
  std::shared_ptr<BodyStream> body_stream;  // set for streaming routes only
  std::string request_id;   // set by the server (client's X-Request-Id when sane)
  std::string remote_addr;
  std::string listener;     // which port's role received it: "gateway", "ml", "pipeline"

  // Value of header `name_lower`, or "" when absent.
  std::string_view Header(std::string_view name_lower) const;
  // Value of query parameter `name`, or nullopt.
  std::optional<std::string> Query(std::string_view name) const;
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
};

// A deferred answer (see Response::later).
Response Later(std::function<void(std::function<void(Response)>)> start);

// Splits `target` into a decoded path and query. False when `target` is not a
// valid origin-form request target (e.g. bad percent-encoding).
bool ParseTarget(std::string_view target, std::string* path, Fields* query);

}  // namespace embedrec::http
