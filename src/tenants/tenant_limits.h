// What one tenant may use: its request rate, its in-flight uploads, its
// stored rows and bytes, its training time. The platform admin sets them per
// tenant in settings.limits (a tenant's own admins cannot change them); the
// platform's defaults (EMBEDREC_TENANT_LIMITS, a JSON object of the same
// fields) fill what a tenant's do not say. A 0 means "no limit".
//
// Enforced by: the tenant routes (requests_per_second: 429 rate_limited with
// Retry-After), tenants/quotas.h (uploads: 429 too_many_uploads, 403
// storage_quota_exceeded / row_quota_exceeded, 413 past the bytes left;
// training jobs: 429 training_quota_exceeded with Retry-After).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>

#include "common/status.h"

namespace embedrec::tenants {

struct TenantLimits {
  // Every request of the tenant (all its keys and users), counted across
  // nodes with Redis. The default is a ceiling above what one node serves:
  // it binds a tenant across a cluster, not a single node's benchmark.
  double requests_per_second = 50'000;
  double burst = 100'000;
  int64_t max_concurrent_uploads = 2;
  int64_t max_upload_bytes = 0;                         // one upload's body; 0: the server's limit
  int64_t max_storage_bytes = int64_t{50} << 30;        // databases, archived uploads, models
  int64_t max_rows = 500'000'000;                       // items + users + interactions
  double training_minutes_per_day = 600;                // over the last 24 hours
};

// `o` (settings.limits, or the platform's defaults) over `base`: the fields
// it names replace base's. 400 for a wrong type, 422 for an unknown field or
// a value out of range, naming `field` + "." + the field.
StatusOr<TenantLimits> ParseTenantLimits(const boost::json::object& o, const TenantLimits& base,
                                         const char* field = "settings.limits");

// What a tenant may use: its settings' "limits" over `defaults` (settings
// without them, or with limits that do not parse: the defaults).
TenantLimits LimitsOf(const boost::json::object& settings, const TenantLimits& defaults);

boost::json::object TenantLimitsJson(const TenantLimits& l);

}  // namespace embedrec::tenants
