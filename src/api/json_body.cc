#include "api/json_body.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>

#include "common/json_text.h"
#include "common/strings.h"
#include "http/declared.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;

Status OnlyFields(const json::object& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) != allowed.end()) continue;
    std::string names;
    for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
    return FieldValueError(key, "'" + std::string(key).substr(0, 64) + "' cannot be changed here (only " + names + ")");
  }
  return Status::Ok();
}

StatusOr<json::object> ParseJsonObject(const http::Request& req, bool allow_empty) {
  return http::ParseJsonBody(req, allow_empty);
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
