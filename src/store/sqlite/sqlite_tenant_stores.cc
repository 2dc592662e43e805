// SQLite backend of TenantStores: the set of tenant spaces, one directory
// per tenant holding its database (sqlite_tenant_store.h) and blob area.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

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
  SqliteTenantStores(std::string root, const Clock* clock, CallbackRunner run_callback,
                     int64_t idle_close_ms, int track_commit_ms)
      : root_(std::move(root)),
        clock_(clock),
        run_callback_(std::move(run_callback)),
        idle_close_ms_(idle_close_ms),
        track_commit_ms_(track_commit_ms) {}

  Status Ping() override {
    if (::access(root_.c_str(), W_OK) != 0) return Status::Unavailable(root_ + " is not writable");
    return Status::Ok();
  }

  Status Create(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::InvalidArgument("tenant id must be a UUID");
    std::error_code ec;
    fs::create_directories(Dir(tenant_id) / "blobs", ec);
    if (ec) return Status::Internal("cannot create tenant directory: " + ec.message());
    return OpenAndSweep(tenant_id, /*create=*/true).status();
  }

  StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) override {
    if (!IsUuid(tenant_id)) return Status::NotFound("tenant '" + tenant_id + "' does not exist");
    return OpenAndSweep(tenant_id, /*create=*/false);
  }

  bool IsOpen(const std::string& tenant_id) override {
    std::lock_guard lock(mu_);
    return open_.count(tenant_id) > 0;
  }

  size_t OpenCount() override {
    std::lock_guard lock(mu_);
    return open_.size();
  }

  void OnIdleClose(std::function<void(const std::vector<std::string>&)> fn) override {
    on_idle_close_ = std::move(fn);
  }

  void CloseIfUnused(const std::string& tenant_id) override {
    std::shared_ptr<TenantStore> closing;  // closed after the lock (declared first)
    std::lock_guard lock(mu_);
    auto it = open_.find(tenant_id);
    if (it == open_.end() || it->second.store.use_count() != 1) return;
    closing = std::move(it->second.store);
    open_.erase(it);
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

  // OpenLocked, then the tenants whose idle stores it closed are announced
  // (outside the lock).
  StatusOr<std::shared_ptr<TenantStore>> OpenAndSweep(const std::string& tenant_id, bool create) {
    std::vector<std::string> closed;
    auto store = OpenLocked(tenant_id, create, &closed);
    if (on_idle_close_ && !closed.empty()) on_idle_close_(closed);
    return store;
  }

  // `closed`: the tenants whose idle stores this call closed.
  StatusOr<std::shared_ptr<TenantStore>> OpenLocked(const std::string& tenant_id, bool create,
                                                    std::vector<std::string>* closed) {
    std::vector<std::shared_ptr<TenantStore>> closing;  // closed after the lock (declared first)
    std::lock_guard lock(mu_);
    const int64_t now = clock_->NowMillis();
    if (idle_close_ms_ > 0 && now - last_sweep_ms_ >= 1000) {
      last_sweep_ms_ = now;
      // Stores nobody holds and nobody opened for a while are closed: an idle
      // tenant keeps no database (its connections, its tracking queue) open.
      for (auto e = open_.begin(); e != open_.end();) {
        if (e->first != tenant_id && e->second.store.use_count() == 1 &&
            now - e->second.last_used_ms >= idle_close_ms_) {
          closing.push_back(std::move(e->second.store));
          closed->push_back(e->first);
          e = open_.erase(e);
        } else {
          ++e;
        }
      }
    }
    auto it = open_.find(tenant_id);
    if (it != open_.end()) {
      it->second.last_used_ms = now;
      return std::shared_ptr<TenantStore>(it->second.store);
    }
    fs::path db_path = Dir(tenant_id) / "tenant.db";
    std::error_code ec;
    if (!create && !fs::exists(db_path, ec)) {
      return Status::NotFound("tenant '" + tenant_id + "' has no data space");
    }
    ASSIGN_OR_RETURN(auto db, SqliteDb::Open({.path = db_path.string(), .pool_size = 4, .background_checkpoint = true},
                                             TenantMigrations()));
    ASSIGN_OR_RETURN(auto store, OpenSqliteTenantStore(tenant_id, std::move(db), create, clock_, &run_callback_,
                                                                track_commit_ms_));
    open_[tenant_id] = {store, now};
    return std::shared_ptr<TenantStore>(store);
  }

  std::string root_;
  const Clock* clock_;
  const CallbackRunner run_callback_;  // outlives the stores: they are closed with this
  const int64_t idle_close_ms_;
  const int track_commit_ms_;
  std::function<void(const std::vector<std::string>&)> on_idle_close_;
  struct Entry {
    std::shared_ptr<TenantStore> store;
    int64_t last_used_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> open_;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace

std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root, const Clock* clock,
                                                    CallbackRunner run_callback, int64_t idle_close_ms,
                                                    int track_commit_ms) {
  return std::make_unique<SqliteTenantStores>(root, clock, std::move(run_callback), idle_close_ms,
                                              track_commit_ms);
}

}  // namespace embedrec::store
