// SQLite backend of TenantStores: the set of tenant spaces, one directory
// per tenant holding its database (sqlite_tenant_store.h) and blob area.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_tenant_schema.h"
#include "store/sqlite/sqlite_tenant_store.h"
#include "store/tenant_stores.h"

namespace embedrec::store {
namespace fs = std::filesystem;

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

namespace {

class SqliteTenantStores final : public TenantStores {
 public:
  SqliteTenantStores(std::string root, const Clock* clock, CallbackRunner run_callback)
      : root_(std::move(root)), clock_(clock), run_callback_(std::move(run_callback)) {}

  Status Ping() override {
    if (::access(root_.c_str(), W_OK) != 0) return Status::Unavailable(root_ + " is not writable");
    return Status::Ok();
  }

  Status Create(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    std::error_code ec;
    fs::create_directories(Dir(tenant_id) / "blobs", ec);
    if (ec) return Status::Internal("cannot create tenant directory: " + ec.message());
    ASSIGN_OR_RETURN(auto store, OpenLocked(tenant_id, /*create=*/true));
    return Status::Ok();
  }

  StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::NotFound("tenant '" + tenant_id + "' does not exist");
    return OpenLocked(tenant_id, /*create=*/false);
  }

  bool IsOpen(const std::string& tenant_id) override {
    std::lock_guard lock(mu_);
    return open_.count(tenant_id) > 0;
  }

  Status Drop(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    {
      std::lock_guard lock(mu_);
      open_.erase(tenant_id);
    }
    std::error_code ec;
    fs::remove_all(Dir(tenant_id), ec);
    if (ec) return Status::Internal("cannot delete tenant directory: " + ec.message());
    return Status::Ok();
  }

 private:
  fs::path Dir(const std::string& tenant_id) const { return fs::path(root_) / tenant_id; }

  StatusOr<std::shared_ptr<TenantStore>> OpenLocked(const std::string& tenant_id, bool create) {
    std::lock_guard lock(mu_);
    auto it = open_.find(tenant_id);
    if (it != open_.end()) return std::shared_ptr<TenantStore>(it->second);
    fs::path db_path = Dir(tenant_id) / "tenant.db";
    std::error_code ec;
    if (!create && !fs::exists(db_path, ec)) {
      return Status::NotFound("tenant '" + tenant_id + "' has no data space");
    }
    ASSIGN_OR_RETURN(auto db, SqliteDb::Open({.path = db_path.string(), .pool_size = 4},
                                             TenantMigrations()));
    ASSIGN_OR_RETURN(auto store, OpenSqliteTenantStore(tenant_id, std::move(db), create, clock_, &run_callback_));
    open_[tenant_id] = store;
    return store;
  }

  std::string root_;
  const Clock* clock_;
  const CallbackRunner run_callback_;  // outlives the stores: they are closed with this
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<TenantStore>> open_;
};

}  // namespace

std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root, const Clock* clock,
                                                    CallbackRunner run_callback) {
  return std::make_unique<SqliteTenantStores>(root, clock, std::move(run_callback));
}

}  // namespace embedrec::store
