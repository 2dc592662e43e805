// Status and StatusOr: how every fallible operation that crosses a module
// boundary reports its outcome (leveldb style, no exceptions).
//
// A Status carries a code (the category the HTTP layer maps to a status code
// in exactly one place, http/errors.cc), a message a person can read, an
// optional snake_case `reason` that overrides the code's default error name
// (e.g. "duplicate_email" instead of "already_exists"), and optional string
// details (e.g. {"field": "password"}).
//
// Thread safety: values; copy freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace embedrec {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,     // malformed request: bad JSON, wrong type, missing field
  kUnprocessable,       // well-formed but unacceptable: weak password, bad slug
  kUnauthenticated,     // missing or bad credentials
  kPermissionDenied,    // authenticated but not allowed
  kNotFound,
  kAlreadyExists,       // conflict with existing state (duplicate email, slug)
  kFailedPrecondition,  // conflict with current state (job already running)
  kResourceExhausted,   // throttled
  kPayloadTooLarge,
  kMethodNotAllowed,
  kUnavailable,         // store temporarily unusable
  kInternal,            // bug or I/O failure; never shown in detail to clients
  kCancelled,           // the operation was cancelled by its caller
};

// Default snake_case name of a code ("not_found").
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  using Details = std::vector<std::pair<std::string, std::string>>;

  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string reason = {}, Details details = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)),
        details_(std::move(details)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg, Details d = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(msg), "", std::move(d));
  }
  static Status Unprocessable(std::string msg, Details d = {}) {
    return Status(StatusCode::kUnprocessable, std::move(msg), "", std::move(d));
  }
  static Status Unauthenticated(std::string msg) {
    return Status(StatusCode::kUnauthenticated, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(StatusCode::kPermissionDenied, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg, std::string reason = {}) {
    return Status(StatusCode::kAlreadyExists, std::move(msg), std::move(reason));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg, Details d = {}) {
    return Status(StatusCode::kResourceExhausted, std::move(msg), "", std::move(d));
  }
  static Status Unavailable(std::string msg) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  // Itself; lets generic code treat Status and StatusOr alike.
  const Status& status() const { return *this; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The snake_case error code clients see: the explicit reason, else the code's name.
  std::string_view reason() const;
  const Details& details() const { return details_; }
  // Value of detail `key`, or nullopt.
  std::optional<std::string> detail(std::string_view key) const;

  Status& WithReason(std::string reason) & { reason_ = std::move(reason); return *this; }
  Status&& WithReason(std::string reason) && { reason_ = std::move(reason); return std::move(*this); }
  Status&& WithDetail(std::string key, std::string value) && {
    details_.emplace_back(std::move(key), std::move(value));
    return std::move(*this);
  }

  // "not_found: tenant t1 does not exist"
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string reason_;
  Details details_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : v_(std::move(s)) {}  // NOLINT: implicit by design
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT
  StatusOr(StatusCode, std::string) = delete;

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace embedrec

#define ER_CONCAT_INNER(a, b) a##b
#define ER_CONCAT(a, b) ER_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::embedrec::Status er_status_ = (expr);            \
    if (!er_status_.ok()) return er_status_;           \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Fn())`: declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(ER_CONCAT(er_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
