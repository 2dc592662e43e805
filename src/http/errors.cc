#include "http/errors.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/json_text.h"
#include "common/strings.h"

namespace embedrec::http {
namespace json = boost::json;

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kMethodNotAllowed: return 405;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kUnprocessable: return 422;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kInternal: return 500;
    case StatusCode::kCancelled: return 409;
    case StatusCode::kUnavailable: return 503;
  }
  return 500;
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response ErrorResponse(const Status& status, const std::string& request_id) {
  int code = HttpStatusFor(status.code());
  json::object details;
  std::string message = ValidUtf8(status.message());  // may echo what a client sent
  if (code >= 500) {
    spdlog::error("request {} failed: {}", request_id, status.ToString());
    if (status.code() == StatusCode::kInternal) {
      message = "an internal error occurred; quote request id " + request_id + " when reporting it";
    }
  } else {
    for (const auto& [k, v] : status.details()) details[k] = ValidUtf8(v);
  }
  details["request_id"] = request_id;
  json::object err{{"code", status.reason()}, {"message", message}, {"details", std::move(details)}};
  Response r = JsonResponse(code, JsonText(json::object{{"error", std::move(err)}}));
  if (auto retry = status.detail("retry_after_seconds"); retry && (code == 429 || code == 503)) {
    r.headers.emplace_back("Retry-After", *retry);
  }
  if (code == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace embedrec::http
