#include "api/json_body.h"

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>

#include "common/json_text.h"
#include "common/strings.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;

Status FieldTypeError(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(
      "field '" + std::string(field) + "' must be " + std::string(expected),
      {{"field", std::string(field)}, {"expected", std::string(expected)}});
}

Status FieldValueError(std::string_view field, std::string message) {
  return Status::Unprocessable(std::move(message), {{"field", std::string(field)}});
}

StatusOr<json::object> ParseJsonObject(const http::Request& req, bool allow_empty) {
  if (Trim(req.body).empty()) {
    if (allow_empty) return json::object();
    return Status::InvalidArgument("request body must be a JSON object").WithReason("invalid_json");
  }
  json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec, {}, opts);
  if (ec) {
    return Status::InvalidArgument("request body is not valid JSON: " + ec.message())
        .WithReason("invalid_json");
  }
  if (!v.is_object()) {
    return Status::InvalidArgument("request body must be a JSON object").WithReason("invalid_json");
  }
  return std::move(v.as_object());
}

StatusOr<std::optional<std::string>> OptString(const json::object& o, std::string_view field,
                                               size_t max_chars) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return FieldTypeError(field, "a string");
  std::string s(v->as_string());
  if (Utf8Length(s) > max_chars) {
    return FieldValueError(field, "field '" + std::string(field) + "' must be at most " +
                                      std::to_string(max_chars) + " characters");
  }
  return std::optional<std::string>(std::move(s));
}

StatusOr<std::string> ReqString(const json::object& o, std::string_view field, size_t max_chars) {
  ASSIGN_OR_RETURN(auto s, OptString(o, field, max_chars));
  if (!s) {
    return Status::InvalidArgument("field '" + std::string(field) + "' is required",
                                   {{"field", std::string(field)}})
        .WithReason("missing_field");
  }
  return std::move(*s);
}

StatusOr<std::optional<int64_t>> OptInt(const json::object& o, std::string_view field, int64_t min,
                                        int64_t max) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  int64_t n;
  if (v->is_int64()) n = v->as_int64();
  else if (v->is_uint64() && v->as_uint64() <= uint64_t(INT64_MAX)) n = int64_t(v->as_uint64());
  else if (v->is_double() && v->as_double() == double(int64_t(v->as_double()))) {
    n = int64_t(v->as_double());
  } else {
    return FieldTypeError(field, "an integer");
  }
  if (n < min || n > max) {
    return FieldValueError(field, "field '" + std::string(field) + "' must be between " +
                                      std::to_string(min) + " and " + std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

StatusOr<std::optional<bool>> OptBool(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return FieldTypeError(field, "a boolean");
  return std::optional<bool>(v->as_bool());
}

StatusOr<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t dflt,
                           int64_t min, int64_t max) {
  auto v = req.Query(name);
  if (!v || v->empty()) return dflt;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || n < min || n > max) {
    return Status::InvalidArgument("query parameter '" + std::string(name) +
                                       "' must be an integer from " + std::to_string(min) +
                                       " to " + std::to_string(max),
                                   {{"field", std::string(name)}});
  }
  return static_cast<int64_t>(n);
}

http::Response JsonAnswer(int status, const json::value& body) {
  return http::JsonResponse(status, JsonText(body));
}

json::value StoredJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(json::object()) : v;
}

}  // namespace embedrec::api
