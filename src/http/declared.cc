#include "http/declared.h"

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "common/strings.h"

namespace embedrec::http {
namespace json = boost::json;

namespace {

JsonSchema MustParse(const std::string& text, const RouteInfo& info, const std::string& what) {
  auto s = JsonSchema::Parse(text);
  if (!s.ok()) {
    std::fprintf(stderr, "route %s %s: bad schema of %s: %s\n", info.method.c_str(), info.pattern.c_str(),
                 what.c_str(), s.status().message().c_str());
    std::abort();
  }
  return std::move(s).value();
}

}  // namespace

Declared Declared::Compile(const RouteInfo& info) {
  Declared d;
  for (const auto& p : info.params) {
    JsonSchema schema = MustParse(p.schema, info, "parameter " + p.name);
    const auto* type = schema.document().as_object().if_contains("type");
    const bool is_string = !type || *type == "string";
    d.params_.push_back({p, std::move(schema), is_string});
  }
  if (!info.body_schema.empty()) d.body_ = MustParse(info.body_schema, info, "the body");
  return d;
}

Status Declared::CheckParams(const Request& req, const PathParams& params) const {
  for (const auto& [p, schema, is_string] : params_) {
    std::optional<std::string> value;
    switch (p.in) {
      case Param::In::kPath: value = params.Get(p.name); break;
      case Param::In::kQuery: value = req.Query(p.name); break;
      case Param::In::kHeader: {
        std::string_view h = req.Header(AsciiLower(p.name));
        if (!h.empty()) value = std::string(h);
        break;
      }
    }
    // An empty value is absent for a string parameter; for a number or a
    // boolean it is malformed (ValidateText says so).
    if (!value || (value->empty() && is_string)) {
      if (p.required) {
        return Status::InvalidArgument("parameter '" + p.name + "' is required", {{"field", p.name}})
            .WithReason("missing_field");
      }
      continue;
    }
    RETURN_IF_ERROR(CheckParamText(p.name, *value));
    RETURN_IF_ERROR(schema.ValidateText(*value, p.name));
  }
  return Status::Ok();
}

Status CheckParamText(const std::string& name, std::string_view value) {
  if (IsValidUtf8(value) && !HasControlChars(value, /*allow_line_breaks=*/false)) return Status::Ok();
  return Status::InvalidArgument("parameter '" + name + "' must be UTF-8 text without control characters",
                                 {{"field", name}});
}

StatusOr<json::object> ParseJsonBody(const Request& req, bool allow_empty) {
  if (Trim(req.body).empty()) {
    if (allow_empty) return json::object();
    return Status::InvalidArgument("request body must be a JSON object").WithReason("invalid_json");
  }
  json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec, {}, opts);
  if (ec) return Status::InvalidArgument("request body is not valid JSON: " + ec.message()).WithReason("invalid_json");
  if (!v.is_object()) return Status::InvalidArgument("request body must be a JSON object").WithReason("invalid_json");
  return std::move(v.as_object());
}

StatusOr<json::object> Declared::Body(const Request& req) const {
  ASSIGN_OR_RETURN(json::object body, ParseJsonBody(req));
  RETURN_IF_ERROR(body_->Validate(body));
  return body;
}

Status Declared::CheckBody(const json::object& body) const {
  if (!body_) return Status::Ok();
  return body_->Validate(body);
}

}  // namespace embedrec::http
