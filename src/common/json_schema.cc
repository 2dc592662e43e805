#include "common/json_schema.h"

#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "common/json_fields.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace embedrec {
namespace json = boost::json;

namespace {

const std::set<std::string_view>& KnownTypes() {
  static const std::set<std::string_view> k = {"object", "array", "string", "integer", "number", "boolean"};
  return k;
}

// Checks the keywords Validate relies on, recursively.
Status CheckSchema(const json::value& s, const std::string& at) {
  if (!s.is_object()) return Status::InvalidArgument("schema at '" + at + "' is not an object");
  const json::object& o = s.as_object();
  if (const auto* t = o.if_contains("type")) {
    if (!t->is_string() || !KnownTypes().count(t->as_string())) {
      return Status::InvalidArgument("schema at '" + at + "' has an unknown type");
    }
  }
  if (const auto* p = o.if_contains("properties")) {
    if (!p->is_object()) return Status::InvalidArgument("properties at '" + at + "' is not an object");
    for (const auto& [k, v] : p->as_object()) RETURN_IF_ERROR(CheckSchema(v, at + "." + std::string(k)));
  }
  if (const auto* r = o.if_contains("required")) {
    if (!r->is_array()) return Status::InvalidArgument("required at '" + at + "' is not an array");
    for (const auto& name : r->as_array()) {
      if (!name.is_string()) return Status::InvalidArgument("required at '" + at + "' names a non-string");
    }
  }
  if (const auto* a = o.if_contains("additionalProperties"); a && !a->is_bool()) {
    RETURN_IF_ERROR(CheckSchema(*a, at + ".*"));
  }
  if (const auto* i = o.if_contains("items")) RETURN_IF_ERROR(CheckSchema(*i, at + "[]"));
  if (const auto* any = o.if_contains("anyOf")) {
    if (!any->is_array() || any->as_array().empty()) {
      return Status::InvalidArgument("anyOf at '" + at + "' is not a non-empty array");
    }
    for (const auto& sub : any->as_array()) RETURN_IF_ERROR(CheckSchema(sub, at));
  }
  if (const auto* m = o.if_contains("multipleOf"); m && !(m->is_number() && m->to_number<double>() > 0)) {
    return Status::InvalidArgument("multipleOf at '" + at + "' is not a positive number");
  }
  for (const char* k : {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"}) {
    if (const auto* v = o.if_contains(k); v && !v->is_number()) {
      return Status::InvalidArgument(std::string(k) + " at '" + at + "' is not a number");
    }
  }
  if (const auto* e = o.if_contains("enum"); e && (!e->is_array() || e->as_array().empty())) {
    return Status::InvalidArgument("enum at '" + at + "' is not a non-empty array");
  }
  return Status::Ok();
}

std::optional<double> Number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  return std::nullopt;
}

bool IsInteger(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.as_double()) && v.as_double() == std::floor(v.as_double());
}

std::string_view Expected(std::string_view type) {
  if (type == "object") return "an object";
  if (type == "array") return "an array";
  if (type == "string") return "a string";
  if (type == "integer") return "an integer";
  if (type == "number") return "a number";
  return "a boolean";
}

bool HasType(const json::value& v, std::string_view type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return IsInteger(v);
  if (type == "number") return v.is_number();
  return v.is_bool();
}

std::string Num(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<int64_t>(x));
  return JsonText(json::value(x));
}

std::string Name(std::string_view field) { return field.empty() ? "the body" : "field '" + std::string(field) + "'"; }

// Where a value is ("context.page", "events[3]"), spelled out only for an
// error: checking a body builds no strings.
struct Field {
  const Field* parent = nullptr;
  std::string_view key;  // a property's name (the root's: the caller's name, maybe empty)
  bool item = false;     // an array's item
  size_t index = 0;      // which one
};

// Whether a string at `f` is an id (one line of text): its property, or
// the array holding it, is named "id", "ids", "*_id" or "*_ids".
bool IsIdField(const Field& f) {
  const Field* x = &f;
  while (x && x->item) x = x->parent;
  if (!x) return false;
  const std::string_view k = x->key;
  auto ends = [&](std::string_view s) { return k.size() >= s.size() && k.substr(k.size() - s.size()) == s; };
  return k == "id" || k == "ids" || ends("_id") || ends("_ids");
}

std::string Str(const Field& f, std::string_view if_empty = "") {
  std::vector<const Field*> chain;
  for (const Field* x = &f; x; x = x->parent) chain.push_back(x);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if ((*it)->item) {
      out += "[" + std::to_string((*it)->index) + "]";
    } else if (!(*it)->key.empty()) {
      if (!out.empty()) out += '.';
      out += (*it)->key;
    }
  }
  return out.empty() ? std::string(if_empty) : out;
}

Status Check(const json::object& s, const json::value& v, const Field& field);

// details of a range error: the field, and min, max as declared.
Status::Details RangeDetails(const json::object& s, const Field& field) {
  Status::Details d{{"field", Str(field)}};
  if (const auto* v = s.if_contains("minimum")) d.emplace_back("min", Num(v->to_number<double>()));
  if (const auto* v = s.if_contains("maximum")) d.emplace_back("max", Num(v->to_number<double>()));
  if (s.if_contains("minimum")) {
    d.emplace_back("min_exclusive", s.if_contains("exclusiveMinimum") && s.at("exclusiveMinimum") == true ? "true" : "false");
  }
  return d;
}

Status CheckRange(const json::object& s, double x, const Field& field) {
  const auto* min = s.if_contains("minimum");
  const auto* max = s.if_contains("maximum");
  const bool xmin = s.if_contains("exclusiveMinimum") && s.at("exclusiveMinimum") == true;
  const bool xmax = s.if_contains("exclusiveMaximum") && s.at("exclusiveMaximum") == true;
  const double lo = min ? min->to_number<double>() : 0, hi = max ? max->to_number<double>() : 0;
  const bool below = min && (xmin ? x <= lo : x < lo);
  const bool above = max && (xmax ? x >= hi : x > hi);
  if (const auto* m = s.if_contains("multipleOf"); m && std::fmod(x, m->to_number<double>()) != 0) {
    if (m->to_number<double>() == 1) {
      std::string rule = min && max ? " in " + std::string(xmin ? "(" : "[") + Num(lo) + ", " + Num(hi) + "]" : "";
      return Status::Unprocessable(Name(Str(field)) + " must be an integer" + rule, RangeDetails(s, field));
    }
    return Status::Unprocessable(Name(Str(field)) + " must be a multiple of " + Num(m->to_number<double>()),
                                 {{"field", Str(field)}});
  }
  if (!below && !above) return Status::Ok();
  std::string rule;
  if (min && max) {
    rule = "between " + Num(lo) + " and " + Num(hi);
    if (xmin || xmax) rule = std::string("in ") + (xmin ? "(" : "[") + Num(lo) + ", " + Num(hi) + (xmax ? ")" : "]");
  } else if (min) {
    rule = std::string(xmin ? "> " : "at least ") + Num(lo);
  } else {
    rule = std::string(xmax ? "< " : "at most ") + Num(hi);
  }
  return Status::Unprocessable(Name(Str(field)) + " must be " + rule, RangeDetails(s, field));
}

// The properties a schema declares, by name.
std::vector<std::string_view> Declared(const json::object* props) {
  std::vector<std::string_view> out;
  if (props) {
    for (const auto& [k, v] : *props) out.push_back(k);
  }
  return out;
}

// A property the schema does not know; `known`: Declared(its properties).
Status UnknownField(const std::vector<std::string_view>& known, const Field& f) {
  return UnknownFieldError(f.parent ? Str(*f.parent) : std::string(), f.key, known);
}

Status CheckObject(const json::object& s, const json::object& o, const Field& field) {
  if (const auto* r = s.if_contains("required")) {
    for (const auto& name : r->as_array()) {
      const json::value* v = o.if_contains(name.as_string());
      if (!v || v->is_null()) {
        const std::string f = Str(Field{&field, name.as_string()});
        return Status::InvalidArgument("field '" + f + "' is required", {{"field", f}}).WithReason("missing_field");
      }
    }
  }
  const json::object* props = s.if_contains("properties") ? &s.at("properties").as_object() : nullptr;
  const json::value* extra = s.if_contains("additionalProperties");
  for (const auto& [k, v] : o) {
    const Field f{&field, k};
    if (props) {
      if (const auto* ps = props->if_contains(k)) {
        if (v.is_null()) continue;  // absent
        RETURN_IF_ERROR(Check(ps->as_object(), v, f));
        continue;
      }
    }
    if (!extra) {
      // Open at the top: ignored, unless it is likely a typo of a declared
      // property ("filter" for "filters"), which would then be missed.
      if (!field.parent && props) {
        const auto known = Declared(props);
        if (!ClosestName(k, known).empty()) return UnknownField(known, f);
      }
      continue;
    }
    if (extra->is_bool()) {
      if (!extra->as_bool()) return UnknownField(Declared(props), f);
      continue;
    }
    RETURN_IF_ERROR(Check(extra->as_object(), v, f));
  }
  return Status::Ok();
}

Status Check(const json::object& s, const json::value& v, const Field& field) {
  if (const auto* any = s.if_contains("anyOf")) {
    Status first;
    for (const auto& sub : any->as_array()) {
      Status st = Check(sub.as_object(), v, field);
      if (st.ok()) return st;
      if (first.ok()) first = st;
    }
    return first;
  }
  if (v.is_null()) {
    if (const auto* n = s.if_contains("nullable"); n && *n == true) return Status::Ok();
    if (s.if_contains("type")) return FieldTypeError(Str(field, "body"), Expected(s.at("type").as_string()));
    return Status::Ok();
  }
  if (const auto* t = s.if_contains("type")) {
    const std::string_view type = t->as_string();
    if (!HasType(v, type)) return FieldTypeError(Str(field, "body"), Expected(type));
  }
  if (const auto* e = s.if_contains("enum")) {
    bool found = false;
    std::string allowed;
    for (const auto& x : e->as_array()) {
      found = found || x == v;
      if (!allowed.empty()) allowed += ", ";
      allowed += x.is_string() ? std::string(x.as_string()) : JsonText(x);
    }
    if (!found) return FieldValueError(Str(field), Name(Str(field)) + " must be one of " + allowed);
  }
  if (v.is_string()) {
    // Text is printable: an id one line, other text may break lines.
    if (HasControlChars(v.as_string(), /*allow_line_breaks=*/!IsIdField(field))) {
      return FieldValueError(Str(field), Name(Str(field)) + " must not contain control characters");
    }
    const size_t n = Utf8Length(v.as_string());
    if (const auto* m = s.if_contains("maxLength"); m && n > m->to_number<double>()) {
      return FieldValueError(Str(field), Name(Str(field)) + " must be at most " + Num(m->to_number<double>()) + " characters");
    }
    if (const auto* m = s.if_contains("minLength"); m && n < m->to_number<double>()) {
      return FieldValueError(Str(field), m->to_number<double>() == 1
                                        ? Name(Str(field)) + " must not be empty"
                                        : Name(Str(field)) + " must be at least " + Num(m->to_number<double>()) + " characters");
    }
  } else if (v.is_number()) {
    RETURN_IF_ERROR(CheckRange(s, *Number(v), field));
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    const auto* maxi = s.if_contains("maxItems");
    const auto* mini = s.if_contains("minItems");
    if ((maxi && a.size() > maxi->to_number<double>()) || (mini && a.size() < mini->to_number<double>())) {
      return FieldValueError(Str(field), Name(Str(field)) + " must hold " +
                                        (mini && maxi ? Num(mini->to_number<double>()) + " to " + Num(maxi->to_number<double>())
                                         : maxi       ? "at most " + Num(maxi->to_number<double>())
                                                      : "at least " + Num(mini->to_number<double>())) +
                                        " items");
    }
    if (const auto* items = s.if_contains("items")) {
      for (size_t i = 0; i < a.size(); ++i) RETURN_IF_ERROR(Check(items->as_object(), a[i], Field{&field, "", true, i}));
    }
  } else if (v.is_object()) {
    RETURN_IF_ERROR(CheckObject(s, v.as_object(), field));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<JsonSchema> JsonSchema::Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument("schema is not valid JSON: " + ec.message());
  RETURN_IF_ERROR(CheckSchema(v, "#"));
  return JsonSchema(std::make_shared<const json::value>(std::move(v)));
}

Status JsonSchema::Validate(const json::value& value, std::string_view field) const {
  return Check(doc_->as_object(), value, Field{nullptr, field});
}

Status JsonSchema::Validate(const json::object& value, std::string_view field) const {
  const json::object& s = doc_->as_object();
  if (const auto* t = s.if_contains("type"); t && t->as_string() != "object") {
    return FieldTypeError(field.empty() ? "body" : field, Expected(t->as_string()));
  }
  return CheckObject(s, value, Field{nullptr, field});
}

Status JsonSchema::ValidateText(std::string_view text, std::string_view field) const {
  const json::object& s = doc_->as_object();
  const json::value* t = s.if_contains("type");
  const std::string_view type = t ? std::string_view(t->as_string()) : "string";
  json::value v;
  if (type == "integer" || type == "number") {
    const std::string copy(text);
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(copy.c_str(), &end);
    // Integers beyond ±2^63 are not integers this server stores.
    if (copy.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x) ||
        (type == "integer" && (x != std::floor(x) || std::fabs(x) >= 9.2e18))) {
      return Status::InvalidArgument("parameter '" + std::string(field) + "' must be " +
                                         std::string(Expected(type)),
                                     {{"field", std::string(field)}});
    }
    v = type == "integer" ? json::value(static_cast<int64_t>(x)) : json::value(x);
  } else if (type == "boolean") {
    if (text != "true" && text != "false") {
      return Status::InvalidArgument("parameter '" + std::string(field) + "' must be true or false",
                                     {{"field", std::string(field)}});
    }
    v = text == "true";
  } else {
    v = json::string(text);
  }
  Status st = Check(s, v, Field{nullptr, field});
  // A number parameter out of its range is as malformed as one that is not
  // a number: 400 (a string's allowed values and length stay 422, as in a body).
  if (!st.ok() && st.code() == StatusCode::kUnprocessable && v.is_number()) {
    return Status::InvalidArgument("parameter '" + std::string(field) + "': " + st.message(),
                                   {{"field", std::string(field)}});
  }
  return st;
}

}  // namespace embedrec
