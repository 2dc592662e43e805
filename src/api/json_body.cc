#include "api/json_body.h"

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>

#include "common/json_text.h"
#include "common/strings.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;

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
