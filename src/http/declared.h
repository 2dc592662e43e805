// A route's declared contract, compiled once, checking each request in one
// place: its path, query and header parameters, and its JSON body, against
// the schemas of its RouteInfo (http/router.h). The API's wrappers run it
// after authentication, before any handler reads the request; the OpenAPI
// document (http/openapi.h) is written from the same declarations.
//
// Errors: a parameter of the wrong type, a number out of its range, or a
// missing required one → 400 naming it; a string parameter not among its
// values → 422; a body that is not a JSON object → 400 invalid_json; a body
// field of the wrong type or missing → 400, one breaking a rule → 422
// (common/json_schema.h).
//
// Thread safety: immutable after Compile.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <vector>

#include "common/json_schema.h"
#include "common/status.h"
#include "http/router.h"

namespace embedrec::http {

// The body as a JSON object (max depth 32; invalid UTF-8 rejected); an
// empty body is an empty object when `allow_empty`. 400 invalid_json otherwise.
StatusOr<boost::json::object> ParseJsonBody(const Request& req, bool allow_empty = false);

// 400 naming the parameter unless `value` (decoded from %XX) is UTF-8 text
// of one line: no invalid bytes, no control character.
Status CheckParamText(const std::string& name, std::string_view value);

class Declared {
 public:
  // Aborts on a schema that does not parse: a programming error, caught by
  // the tests that build the route table.
  static Declared Compile(const RouteInfo& info);

  Status CheckParams(const Request& req, const PathParams& params) const;
  // The body parsed (ParseJsonBody) and checked. REQUIRES: has_body().
  StatusOr<boost::json::object> Body(const Request& req) const;
  // Checks an already parsed body.
  Status CheckBody(const boost::json::object& body) const;
  bool has_body() const { return body_.has_value(); }

 private:
  struct CompiledParam {
    Param param;
    JsonSchema schema;
    bool is_string = true;  // an empty value is absent (else malformed)
  };
  std::vector<CompiledParam> params_;
  std::optional<JsonSchema> body_;
};

}  // namespace embedrec::http
