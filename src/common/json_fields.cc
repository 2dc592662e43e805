#include "common/json_fields.h"

#include <boost/json.hpp>
#include <cstdint>

#include "common/strings.h"

namespace embedrec {
namespace json = boost::json;

Status FieldTypeError(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(
      "field '" + std::string(field) + "' must be " + std::string(expected),
      {{"field", std::string(field)}, {"expected", std::string(expected)}});
}

Status FieldValueError(std::string_view field, std::string message) {
  return Status::Unprocessable(std::move(message), {{"field", std::string(field)}});
}

Status UnknownFieldError(std::string_view parent, std::string_view name, const std::vector<std::string_view>& known) {
  auto path = [&](std::string_view n) { return parent.empty() ? std::string(n) : std::string(parent) + "." + std::string(n); };
  std::string field = path(name.size() > 96 ? name.substr(0, 96) : name);
  if (name.size() > 96) field = ValidUtf8(field) + "...";
  std::string message = "unknown field '" + field + "'";
  Status::Details details{{"field", field}};
  if (std::string_view meant = ClosestName(name, known); !meant.empty()) {
    message += "; did you mean '" + path(meant) + "'?";
    details.emplace_back("did_you_mean", path(meant));
  }
  if (!known.empty()) {
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    message += " (known: " + list + ")";
    details.emplace_back("known_fields", std::move(list));
  }
  return Status::Unprocessable(std::move(message), std::move(details));
}

StatusOr<std::optional<std::string>> OptString(const json::object& o, std::string_view field,
                                               size_t max_chars) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return FieldTypeError(field, "a string");
  std::string s(v->as_string());
  // An id ("id", "*_id") is one line of text; other text may break lines.
  const bool id = field == "id" || (field.size() > 3 && field.substr(field.size() - 3) == "_id");
  if (HasControlChars(s, /*allow_line_breaks=*/!id)) {
    return FieldValueError(field, "field '" + std::string(field) + "' must not contain control characters");
  }
  if (Utf8Length(s) > max_chars) {
    return FieldValueError(field, "field '" + std::string(field) + "' must be at most " +
                                      std::to_string(max_chars) + " characters");
  }
  return std::optional<std::string>(std::move(s));
}

StatusOr<std::string> ReqString(const json::object& o, std::string_view field, size_t max_chars) {
  ASSIGN_OR_RETURN(auto s, OptString(o, field, max_chars));
  if (!s) {
    return Status::InvalidArgument("field '" + std::string(field) + "' is required",
                                   {{"field", std::string(field)}})
        .WithReason("missing_field");
  }
  return std::move(*s);
}

StatusOr<std::optional<int64_t>> OptInt(const json::object& o, std::string_view field, int64_t min,
                                        int64_t max) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  int64_t n;
  if (v->is_int64()) n = v->as_int64();
  else if (v->is_uint64() && v->as_uint64() <= uint64_t(INT64_MAX)) n = int64_t(v->as_uint64());
  else if (v->is_double() && v->as_double() == double(int64_t(v->as_double()))) {
    n = int64_t(v->as_double());
  } else {
    return FieldTypeError(field, "an integer");
  }
  if (n < min || n > max) {
    return FieldValueError(field, "field '" + std::string(field) + "' must be between " +
                                      std::to_string(min) + " and " + std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

StatusOr<std::optional<bool>> OptBool(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return FieldTypeError(field, "a boolean");
  return std::optional<bool>(v->as_bool());
}

}  // namespace embedrec
