#include "http/openapi.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cctype>
#include <set>

namespace embedrec::http {
namespace json = boost::json;

namespace {

json::value ErrorRef() { return json::object{{"$ref", "#/components/schemas/Error"}}; }

// As documented: an optional property also takes null (the server treats
// null as absent), which OpenAPI 3.0 says with nullable.
void MarkOptionalNullable(json::value& schema) {
  if (!schema.is_object()) return;
  json::object& o = schema.as_object();
  if (auto* props = o.if_contains("properties"); props && props->is_object()) {
    std::set<std::string> required;
    if (auto* r = o.if_contains("required"); r && r->is_array()) {
      for (const auto& n : r->as_array()) {
        if (n.is_string()) required.insert(std::string(n.as_string()));
      }
    }
    for (auto& [name, p] : props->as_object()) {
      MarkOptionalNullable(p);
      if (!required.count(std::string(name)) && p.is_object()) p.as_object()["nullable"] = true;
    }
  }
  if (auto* items = o.if_contains("items")) MarkOptionalNullable(*items);
  if (auto* extra = o.if_contains("additionalProperties"); extra && extra->is_object()) MarkOptionalNullable(*extra);
  if (auto* any = o.if_contains("anyOf"); any && any->is_array()) {
    for (auto& s : any->as_array()) MarkOptionalNullable(s);
  }
}

// The text rules every request string follows (common/json_schema.h,
// http/declared.h), spelled as patterns so that clients (and generators of
// test requests) know them: an id or a parameter is one line without
// control characters; other text may also hold tabs and line breaks.
constexpr const char* kOneLine = R"(^[^\x00-\x1F\x7F]*$)";
constexpr const char* kText = R"(^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$)";

bool IsIdName(std::string_view k) {
  auto ends = [&](std::string_view s) { return k.size() >= s.size() && k.substr(k.size() - s.size()) == s; };
  return k == "id" || k == "ids" || ends("_id") || ends("_ids");
}

// Adds the pattern of its text rule to every string of a request's schema.
void MarkPrintable(json::value& schema, bool id) {
  if (!schema.is_object()) return;
  json::object& o = schema.as_object();
  if (auto* t = o.if_contains("type"); t && *t == "string" && !o.contains("pattern") && !o.contains("enum") &&
                                       !o.contains("format")) {
    o["pattern"] = id ? kOneLine : kText;
  }
  if (auto* props = o.if_contains("properties"); props && props->is_object()) {
    for (auto& [name, p] : props->as_object()) MarkPrintable(p, IsIdName(name));
  }
  if (auto* items = o.if_contains("items")) MarkPrintable(*items, id);
  if (auto* extra = o.if_contains("additionalProperties"); extra && extra->is_object()) MarkPrintable(*extra, false);
  if (auto* any = o.if_contains("anyOf"); any && any->is_array()) {
    for (auto& s : any->as_array()) MarkPrintable(s, id);
  }
}

json::value Schema(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(json::object()) : v;  // routes' schemas are checked at start-up
}

const char* Describe(int status) {
  switch (status) {
    case 400: return "malformed request: a parameter or body field of the wrong type, missing or malformed";
    case 401: return "no credential, or an invalid or expired one";
    case 403: return "the credential lacks a permission, or names another tenant";
    case 404: return "not found (or another tenant's)";
    case 405: return "method not allowed";
    case 409: return "conflicts with the current state";
    case 413: return "body larger than the route's limit";
    case 415: return "unsupported media type";
    case 422: return "a well-formed value that breaks a rule (range, length, allowed values)";
    case 429: return "too many requests";
    case 503: return "not ready, or overloaded";
    default: return "error";
  }
}

json::object Operation(const Route& r) {
  const RouteInfo& info = r.info;
  json::object op{{"summary", info.summary},
                  {"tags", json::array{json::string(info.tag)}},
                  {"operationId", OperationId(info.method, info.pattern)}};
  json::array params;
  std::set<std::string> declared;
  for (const auto& p : info.params) {
    declared.insert(p.name);
    json::object o{{"name", p.name},
                   {"in", p.in == Param::In::kPath ? "path" : p.in == Param::In::kQuery ? "query" : "header"},
                   {"required", p.in == Param::In::kPath || p.required},
                   {"schema", Schema(p.schema)}};
    MarkPrintable(o["schema"], /*id=*/true);  // a parameter is one line (http/declared.h)
    if (!p.description.empty()) o["description"] = p.description;
    params.push_back(std::move(o));
  }
  for (const auto& seg : r.segments) {
    if (seg.size() > 2 && seg.front() == '{') {
      std::string name = seg.substr(1, seg.size() - 2);
      if (declared.count(name)) continue;
      params.push_back(json::object{{"name", name},
                                    {"in", "path"},
                                    {"required", true},
                                    {"schema", json::object{{"type", "string"}, {"minLength", 1}, {"pattern", kOneLine}}}});
    }
  }
  if (!params.empty()) op["parameters"] = std::move(params);

  std::set<int> errors(info.errors.begin(), info.errors.end());
  if (!info.body_schema.empty() || !info.body_media.empty()) {
    json::object content;
    if (!info.body_schema.empty()) {
      json::value schema = Schema(info.body_schema);
      MarkOptionalNullable(schema);
      MarkPrintable(schema, false);
      content["application/json"] = json::object{{"schema", std::move(schema)}};
      errors.insert({400, 422});
    }
    for (const auto& media : info.body_media) {
      json::object schema{{"type", "string"}, {"format", "binary"}};
      if (media == "multipart/form-data") {
        schema = json::object{{"type", "object"},
                              {"required", json::array{"file"}},
                              {"properties", json::object{{"file", json::object{{"type", "string"}, {"format", "binary"}}},
                                                          {"tenant_id", json::object{{"type", "string"}}}}}};
      }
      content[media] = json::object{{"schema", std::move(schema)}};
    }
    op["requestBody"] = json::object{{"required", true}, {"content", std::move(content)}};
  }
  if (std::any_of(info.params.begin(), info.params.end(), [](const Param& p) { return p.in != Param::In::kPath; })) {
    errors.insert(400);
  }
  if (info.authenticated) {
    op["security"] = json::array{json::object{{"bearer", json::array{}}}};
    errors.insert({401, 403});
  }
  op["x-embedrec-role"] = std::string(RoleName(info.role));

  json::object responses;
  if (info.replies.empty()) {
    responses["200"] = json::object{{"description", "success"}};
  }
  // Replies of one status in several media (JSON or CSV) share its entry.
  for (const auto& reply : info.replies) {
    const std::string status = std::to_string(reply.status);
    if (!responses.contains(status)) {
      responses[status] = json::object{{"description", reply.description.empty() ? "success" : reply.description}};
    }
    json::object& o = responses[status].as_object();
    if (reply.media.empty() || reply.status == 204) continue;
    if (!o.contains("content")) o["content"] = json::object{};
    o["content"].as_object()[reply.media] =
        json::object{{"schema", reply.schema.empty() ? json::value(json::object{}) : Schema(reply.schema)}};
  }
  const json::object error_content{{"application/json", json::object{{"schema", ErrorRef()}}}};
  for (int status : errors) {
    responses[std::to_string(status)] = json::object{{"description", Describe(status)}, {"content", error_content}};
  }
  responses["default"] = json::object{{"description", "unexpected error"}, {"content", error_content}};
  op["responses"] = std::move(responses);
  return op;
}

}  // namespace

std::string OperationId(const std::string& method, const std::string& pattern) {
  std::string id = method;
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : pattern) {
    if (std::isalnum(static_cast<unsigned char>(c))) id.push_back(c);
    else if (!id.empty() && id.back() != '_') id.push_back('_');
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

json::object OpenApiDocument(const Router& router, const std::string& version) {
  json::object paths;
  for (const auto& r : router.routes()) {
    std::string method = r.info.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json::value& entry = paths[r.info.pattern];
    if (!entry.is_object()) entry = json::object();
    entry.as_object()[method] = Operation(r);
  }
  json::object error_schema{
      {"type", "object"},
      {"required", json::array{"error"}},
      {"properties",
       json::object{{"error", json::object{{"type", "object"},
                                           {"required", json::array{"code", "message", "details"}},
                                           {"properties",
                                            json::object{{"code", json::object{{"type", "string"}}},
                                                         {"message", json::object{{"type", "string"}}},
                                                         {"details", json::object{{"type", "object"}}}}}}}}}};
  return json::object{
      {"openapi", "3.0.3"},
      {"info", json::object{{"title", "embedrec"}, {"version", version}}},
      {"paths", std::move(paths)},
      {"components",
       json::object{{"securitySchemes", json::object{{"bearer", json::object{{"type", "http"}, {"scheme", "bearer"}}}}},
                    {"schemas", json::object{{"Error", std::move(error_schema)}}}}}};
}

}  // namespace embedrec::http
