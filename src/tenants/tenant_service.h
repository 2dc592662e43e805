// The tenant lifecycle: create, read, change (name, settings, suspension)
// and delete, callable without HTTP.
//
// A tenant is made of more than its control row: its users and keys (in the
// control store), its own space (store and blobs), its training job, and
// what serving and authentication keep of it in memory. So:
//   * creation makes the space first and the row last: a tenant that can be
//     seen has its space;
//   * deletion marks the row "deleting" (its credentials stop working), then
//     stops the job, drops the space and serving's state, and removes the
//     row last. When a step fails, the tenant stays "deleting" and a retry
//     finishes the job; nothing is orphaned.
// Whatever else holds state of a tenant is told through TenantHooks, wired
// in app/platform.cc, so this module needs nothing above the stores.
//
// Thread safety: safe for concurrent use (the stores are).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "blob/blob_store.h"
#include "store/control_store.h"
#include "store/tenant_stores.h"

namespace embedrec::tenants {

inline constexpr const char* kActive = "active";
inline constexpr const char* kSuspended = "suspended";
inline constexpr const char* kDeleting = "deleting";

// What another module does when a tenant changes or goes. Every member may be empty.
struct TenantHooks {
  // The tenant is being deleted: stop writing its data (a training job would
  // write files again). An error stops the deletion; a retry calls it again.
  std::function<Status(const std::string& tenant_id)> stop;
  // Its name, settings or status changed: drop what is cached of them.
  std::function<void(const std::string& tenant_id)> changed;
  // Its space is gone: drop everything held of it in memory.
  std::function<void(const std::string& tenant_id)> deleted;
};

struct NewTenant {
  std::string name, slug;
  boost::json::object settings;  // validated and completed by NormalizeSettings
};

struct TenantChange {
  std::optional<std::string> name;
  std::optional<std::string> status;                  // "active" | "suspended"
  std::optional<boost::json::object> settings_patch;  // given keys replace, null removes
};

class TenantService {
 public:
  // `blobs` (may be null) is where the tenants' files are, dropped with them.
  TenantService(store::ControlStore* control, store::TenantStores* spaces, blob::TenantBlobStores* blobs,
                const Clock* clock)
      : control_(control), spaces_(spaces), blobs_(blobs), clock_(clock) {}

  // Before the service is used (not thread-safe with the calls below).
  void AddHooks(TenantHooks hooks) { hooks_.push_back(std::move(hooks)); }

  // 422 naming the field for a blank name, a bad slug or settings; 409 for a
  // slug in use.
  StatusOr<store::TenantRecord> Create(NewTenant t);
  StatusOr<store::TenantRecord> Get(const std::string& id);
  StatusOr<store::TenantPage> List(const std::string& cursor, int limit);
  // 409 for a tenant being deleted (deleting it again finishes it).
  StatusOr<store::TenantRecord> Change(const std::string& id, const TenantChange& change);
  // 404 when there is no such tenant (also once a deletion has finished).
  Status Delete(const std::string& id);

 private:
  void Changed(const std::string& id);

  store::ControlStore* control_;
  store::TenantStores* spaces_;
  blob::TenantBlobStores* blobs_;
  const Clock* clock_;
  std::vector<TenantHooks> hooks_;
};

// Validates the known settings and fills their defaults (422 naming the
// field, 400 for a wrong type). Unknown keys are kept (the shop's own notes,
// room for settings later issues add), within 16 KiB.
StatusOr<boost::json::object> NormalizeSettings(boost::json::object settings);
// Refuses (422, common/json_fields.h's UnknownFieldError) a setting whose
// name is close to one the server reads but is not it ("cache_ttl" for
// cache_ttl_seconds): stored, it would do nothing. Other names pass.
Status CheckSettingNames(const boost::json::object& settings);

}  // namespace embedrec::tenants
