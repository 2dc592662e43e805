// Reading JSON request bodies with precise errors: malformed JSON, a wrong
// type or a missing field → kInvalidArgument (400) naming the field; a value
// of the right type that breaks a rule (too long, out of range) →
// kUnprocessable (422). Unknown fields are ignored.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/request.h"

namespace embedrec::api {

// Parses the body as a JSON object (max depth 32; invalid UTF-8 is rejected).
// An empty body is an empty object when `allow_empty`.
StatusOr<boost::json::object> ParseJsonObject(const http::Request& req, bool allow_empty = false);

// Field readers. `max_chars` counts Unicode code points.
StatusOr<std::optional<std::string>> OptString(const boost::json::object& o, std::string_view field,
                                               size_t max_chars);
StatusOr<std::string> ReqString(const boost::json::object& o, std::string_view field,
                                size_t max_chars);
StatusOr<std::optional<int64_t>> OptInt(const boost::json::object& o, std::string_view field,
                                        int64_t min, int64_t max);
StatusOr<std::optional<bool>> OptBool(const boost::json::object& o, std::string_view field);

// Integer query parameter `name` within [min, max]; `dflt` when absent or
// empty. kInvalidArgument naming the parameter otherwise.
StatusOr<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t dflt,
                           int64_t min, int64_t max);

// A 400 for field `field` of the wrong type or missing; a 422 for a bad value.
Status FieldTypeError(std::string_view field, std::string_view expected);
Status FieldValueError(std::string_view field, std::string message);

// A JSON answer.
http::Response JsonAnswer(int status, const boost::json::value& body);

// JSON text this process stored (settings, metrics, item properties), parsed
// for an answer; an empty object if it is not valid JSON.
boost::json::value StoredJson(std::string_view text);

}  // namespace embedrec::api
