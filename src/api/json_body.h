// Reading JSON request bodies with precise errors: malformed JSON →
// kInvalidArgument (400); fields as common/json_fields.h reads them (400 for
// a wrong type or a missing field, 422 for a bad value). Unknown fields are
// ignored, unless the route's declared schema refuses them
// (additionalProperties false: a filter, an item, a training request); then
// a 422 names the one likely meant.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "common/json_fields.h"
#include "common/status.h"
#include "http/request.h"

namespace embedrec::api {

// Parses the body as a JSON object (max depth 32; invalid UTF-8 is rejected).
// An empty body is an empty object when `allow_empty`.
StatusOr<boost::json::object> ParseJsonObject(const http::Request& req, bool allow_empty = false);

// The field readers (OptString, ReqString, OptInt, OptBool, FieldTypeError,
// FieldValueError) are common/json_fields.h's.

// kUnprocessable (422) naming the first field of `body` not in `allowed`:
// for a change that must not silently ignore what it cannot change (an
// email, a tenant).
Status OnlyFields(const boost::json::object& body, std::initializer_list<std::string_view> allowed);

// Integer query parameter `name` within [min, max]; `dflt` when absent or
// empty. kInvalidArgument naming the parameter otherwise.
StatusOr<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t dflt,
                           int64_t min, int64_t max);

// Field `field` of `o` as a number: a JSON number, or a string holding one
// as shops' back ends often send decimals ("12.99"; also "12,99",
// "1.299,00", "1,299.00": ingest/written_number.h, a lone comma before three
// digits refused as ambiguous). Nothing when absent or null; 400 for another
// type, 422 for a string that is not such a number.
// `shop_currency`: set for an amount (a price), the shop's ISO code
// (settings.currency; empty: none named): a string may then carry a currency
// that can be it ("$12.99" in a USD shop); amounts are not converted, so any
// other is a 422. Unset: no currency.
StatusOr<std::optional<double>> OptDecimal(const boost::json::object& o, std::string_view field,
                                           std::optional<std::string_view> shop_currency = std::nullopt);
// Its schema (OpenAPI): a number, or a string holding one; `number_schema`
// is the number's (its bounds, its description).
std::string DecimalSchema(std::string_view number_schema);

// A JSON answer.
http::Response JsonAnswer(int status, const boost::json::value& body);

// JSON text this process stored (settings, metrics, item properties), parsed
// for an answer; an empty object if it is not valid JSON.
boost::json::value StoredJson(std::string_view text);

}  // namespace embedrec::api
