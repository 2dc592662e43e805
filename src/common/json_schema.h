// A JSON Schema (the OpenAPI 3.0 subset) that both documents and checks a
// value: what a route declares about its request is what is enforced.
//
// Keywords checked: type (object, array, string, integer, number, boolean),
// nullable, required, properties, additionalProperties (false or a schema),
// items, minItems, maxItems, minLength, maxLength (in code points), minimum,
// maximum, exclusiveMinimum/exclusiveMaximum (booleans, as in 3.0),
// multipleOf, enum, anyOf. Every string is printable text: no control
// characters (an id's — a property or array named id, ids, *_id, *_ids —
// none at all; other text may hold tabs and line breaks), a 422 otherwise. A number that breaks its range or multipleOf
// names min, max and min_exclusive in the error's details. Other keywords (description, example, format, ...) document only.
//
// Errors follow common/json_fields.h: a wrong type or a missing required
// field → kInvalidArgument (400); a value of the right type that breaks a
// rule (length, range, enum, item count) → kUnprocessable (422). Both name
// the field in details.field ("context.page", "events[]"). As the field
// readers do, a null optional property is treated as absent. A property
// that additionalProperties false refuses is a 422 naming, in details,
// the properties known there (known_fields) and, when one is close
// (common/strings.h's ClosestName), the one likely meant (did_you_mean).
// Where additionalProperties is not given an unknown property is ignored,
// except at the top (a request body's own fields) one whose name is close
// to a declared one ("filter" for "filters", "cout" for "count"): a likely
// typo, refused the same way rather than silently missed.
//
// Thread safety: immutable after Parse; Validate may run concurrently.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace embedrec {

class JsonSchema {
 public:
  // kInvalidArgument when `text` is not a JSON object or uses a keyword
  // wrongly (a programming error in a declaration).
  static StatusOr<JsonSchema> Parse(std::string_view text);

  // `field`: the name of `value` in errors ("" for a whole body).
  Status Validate(const boost::json::value& value, std::string_view field = "") const;
  // The same for an object (a request body), without copying it.
  Status Validate(const boost::json::object& value, std::string_view field = "") const;
  // The same for a text value (a query or path parameter): converted to the
  // declared type first (an integer, number or boolean must parse as one).
  // A number out of its range is a 400 here, like one that does not parse.
  Status ValidateText(std::string_view text, std::string_view field) const;

  const boost::json::value& document() const { return *doc_; }

 private:
  explicit JsonSchema(std::shared_ptr<const boost::json::value> doc) : doc_(std::move(doc)) {}
  std::shared_ptr<const boost::json::value> doc_;
};

}  // namespace embedrec
