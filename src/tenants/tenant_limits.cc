#include "tenants/tenant_limits.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string>

#include "common/json_fields.h"

namespace embedrec::tenants {
namespace json = boost::json;

namespace {

// A number field within [min, max] into *out when present (null: absent).
Status ReadNumber(const json::object& o, const char* field, const char* name, double min, double max,
                  double* out) {
  const json::value* v = o.if_contains(name);
  if (!v || v->is_null()) return Status::Ok();
  const std::string where = std::string(field) + "." + name;
  if (!v->is_number()) return FieldTypeError(where, "a number");
  const double x = v->to_number<double>();
  if (!(x >= min && x <= max)) {
    return FieldValueError(where, where + " must be " + std::to_string(static_cast<int64_t>(min)) + " to " +
                                      std::to_string(static_cast<int64_t>(max)) + " (0: no limit)");
  }
  *out = x;
  return Status::Ok();
}

Status ReadInt(const json::object& o, const char* field, const char* name, double max, int64_t* out) {
  double x = static_cast<double>(*out);
  RETURN_IF_ERROR(ReadNumber(o, field, name, 0, max, &x));
  if (x != static_cast<double>(static_cast<int64_t>(x))) {
    return FieldValueError(std::string(field) + "." + name, std::string(field) + "." + name + " must be a whole number");
  }
  *out = static_cast<int64_t>(x);
  return Status::Ok();
}

}  // namespace

StatusOr<TenantLimits> ParseTenantLimits(const json::object& o, const TenantLimits& base, const char* field) {
  static constexpr const char* kFields[] = {"requests_per_second", "burst", "max_concurrent_uploads",
                                            "max_upload_bytes", "max_storage_bytes", "max_rows",
                                            "training_minutes_per_day"};
  for (const auto& [key, value] : o) {
    bool known = false;
    for (const char* f : kFields) known = known || key == f;
    if (!known) {
      return FieldValueError(std::string(field) + "." + std::string(key),
                             std::string(field) + " takes requests_per_second, burst, max_concurrent_uploads, "
                             "max_upload_bytes, max_storage_bytes, max_rows and training_minutes_per_day");
    }
  }
  TenantLimits l = base;
  RETURN_IF_ERROR(ReadNumber(o, field, "requests_per_second", 0, 1e7, &l.requests_per_second));
  RETURN_IF_ERROR(ReadNumber(o, field, "burst", 0, 1e8, &l.burst));
  // A rate without its burst: a second's worth.
  if (o.contains("requests_per_second") && !o.contains("burst")) l.burst = std::max(1.0, l.requests_per_second);
  RETURN_IF_ERROR(ReadInt(o, field, "max_concurrent_uploads", 1000, &l.max_concurrent_uploads));
  RETURN_IF_ERROR(ReadInt(o, field, "max_upload_bytes", 1e15, &l.max_upload_bytes));
  RETURN_IF_ERROR(ReadInt(o, field, "max_storage_bytes", 1e16, &l.max_storage_bytes));
  RETURN_IF_ERROR(ReadInt(o, field, "max_rows", 1e13, &l.max_rows));
  RETURN_IF_ERROR(ReadNumber(o, field, "training_minutes_per_day", 0, 1440, &l.training_minutes_per_day));
  return l;
}

TenantLimits LimitsOf(const json::object& settings, const TenantLimits& defaults) {
  const json::value* l = settings.if_contains("limits");
  if (!l || !l->is_object()) return defaults;
  auto limits = ParseTenantLimits(l->as_object(), defaults);
  return limits.ok() ? *limits : defaults;
}

json::object TenantLimitsJson(const TenantLimits& l) {
  return {{"requests_per_second", l.requests_per_second},
          {"burst", l.burst},
          {"max_concurrent_uploads", l.max_concurrent_uploads},
          {"max_upload_bytes", l.max_upload_bytes},
          {"max_storage_bytes", l.max_storage_bytes},
          {"max_rows", l.max_rows},
          {"training_minutes_per_day", l.training_minutes_per_day}};
}

}  // namespace embedrec::tenants
