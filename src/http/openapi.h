// The OpenAPI 3.0 document of a route table, written from each route's
// declaration (http/router.h): its parameters, request body, answers and
// errors. The same declarations check requests (http/declared.h), so the
// document and the server cannot drift apart.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "http/router.h"

namespace embedrec::http {

// "post_api_v1_admin_tenants_id": a stable operationId.
std::string OperationId(const std::string& method, const std::string& pattern);

// `version`: the API's (info.version).
boost::json::object OpenApiDocument(const Router& router, const std::string& version);

}  // namespace embedrec::http
