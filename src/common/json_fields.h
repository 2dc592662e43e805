// Reading fields of a JSON object with precise errors, for every caller
// that validates JSON it was given (request bodies, settings): a wrong type
// or a missing field → kInvalidArgument (400) naming the field; a value of
// the right type that breaks a rule (too long, out of range) →
// kUnprocessable (422) naming it. Absent and null are the same.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace embedrec {

// `max_chars` counts Unicode code points.
StatusOr<std::optional<std::string>> OptString(const boost::json::object& o, std::string_view field,
                                               size_t max_chars);
StatusOr<std::string> ReqString(const boost::json::object& o, std::string_view field,
                                size_t max_chars);
StatusOr<std::optional<int64_t>> OptInt(const boost::json::object& o, std::string_view field,
                                        int64_t min, int64_t max);
StatusOr<std::optional<bool>> OptBool(const boost::json::object& o, std::string_view field);

// A 400 for field `field` of the wrong type or missing; a 422 for a bad value.
Status FieldTypeError(std::string_view field, std::string_view expected);
Status FieldValueError(std::string_view field, std::string message);
// A 422 for a field `name` of the object at `parent` ("" at the top) that
// takes only `known`: naming them (details.known_fields) and, when one is
// close (common/strings.h's ClosestName), the one likely meant
// (details.did_you_mean, also in the message).
Status UnknownFieldError(std::string_view parent, std::string_view name, const std::vector<std::string_view>& known);

}  // namespace embedrec
