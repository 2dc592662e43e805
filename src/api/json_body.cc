#include "api/json_body.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>

#include "common/json_text.h"
#include "common/strings.h"
#include "ingest/written_number.h"
#include "http/declared.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;

StatusOr<std::optional<double>> OptDecimal(const json::object& o, std::string_view field,
                                           std::optional<std::string_view> shop_currency) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<double>();
  if (v->is_number()) return std::optional<double>(v->to_number<double>());
  if (!v->is_string()) return FieldTypeError(field, "a number");
  const std::string_view text = v->as_string();
  std::string why;
  // Read as in a file not separated by commas: "1,299" is ambiguous there.
  const auto n = ingest::ReadWrittenNumber(text, {.delimiter = ';', .amount = shop_currency.has_value()}, &why);
  if (!n) {
    return FieldValueError(field, std::string(field) + " must be a number, or a string holding one ('12.99'), not '" +
                                      std::string(text.substr(0, 40)) + "'" + (why.empty() ? "" : ": " + why));
  }
  if (!n->currency.empty() && !ingest::MayDenote(n->currency, *shop_currency)) {
    return FieldValueError(field, std::string(field) + " is written in '" + n->currency + "', " +
                                      (shop_currency->empty() ? std::string("and the shop names no currency")
                                                              : "the shop's currency is " + std::string(*shop_currency)) +
                                      " (settings.currency): amounts are not converted; send the amount alone");
  }
  return std::optional<double>(std::strtod(n->plain.c_str(), nullptr));
}

std::string DecimalSchema(std::string_view number_schema) {
  return std::string(R"({"anyOf":[)") + std::string(number_schema) +
         R"(,{"type":"string","maxLength":64,"description":"the same number as text: '12.99', '12,99', '1.299,00' or '1,299.00'; a price may carry the shop's currency (settings.currency): '$12.99'"}]})";
}

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
