#include "common/status.h"

namespace embedrec {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid_request";
    case StatusCode::kUnprocessable: return "validation_failed";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kPermissionDenied: return "forbidden";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "conflict";
    case StatusCode::kFailedPrecondition: return "conflict";
    case StatusCode::kResourceExhausted: return "too_many_requests";
    case StatusCode::kPayloadTooLarge: return "payload_too_large";
    case StatusCode::kMethodNotAllowed: return "method_not_allowed";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kInternal: return "internal_error";
    case StatusCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string_view Status::reason() const {
  return reason_.empty() ? StatusCodeName(code_) : std::string_view(reason_);
}

std::optional<std::string> Status::detail(std::string_view key) const {
  for (const auto& [k, v] : details_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(reason()) + ": " + message_;
}

}  // namespace embedrec
