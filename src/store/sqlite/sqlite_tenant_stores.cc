// SQLite backend of TenantStores: one database file per tenant directory.
#include <filesystem>
#include <map>
#include <mutex>

#include "store/sqlite/sqlite_db.h"
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

const std::vector<Migration>& TenantMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
  };
  return kMigrations;
}

class SqliteTenantStore final : public TenantStore {
 public:
  SqliteTenantStore(std::string id, std::unique_ptr<SqliteDb> db)
      : id_(std::move(id)), db_(std::move(db)) {}
  const std::string& tenant_id() const override { return id_; }
  int SchemaVersion() const override { return db_->SchemaVersion(); }
  Status Ping() override {
    return db_->Read([](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT 1"));
      return st->Run();
    });
  }
  // Records which tenant this database belongs to; Open checks it, so a
  // misplaced file can never serve another tenant.
  Status Stamp() {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT OR IGNORE INTO meta (key, value) "
                                          "VALUES ('tenant_id', ?)"));
      st->Bind(1, id_);
      return st->Run();
    });
  }
  StatusOr<std::string> StampedId() {
    std::string out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT value FROM meta WHERE key='tenant_id'"));
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = st->Text(0);
      return Status::Ok();
    }));
    return out;
  }

 private:
  std::string id_;
  std::unique_ptr<SqliteDb> db_;
};

class SqliteTenantStores final : public TenantStores {
 public:
  explicit SqliteTenantStores(std::string root) : root_(std::move(root)) {}

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

  std::string BlobRoot(const std::string& tenant_id) const override {
    return (Dir(tenant_id) / "blobs").string();
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
    auto store = std::make_shared<SqliteTenantStore>(tenant_id, std::move(db));
    if (create) RETURN_IF_ERROR(store->Stamp());
    ASSIGN_OR_RETURN(std::string stamped, store->StampedId());
    if (stamped != tenant_id) {
      return Status::Internal("tenant database " + db_path.string() + " belongs to '" + stamped +
                              "', not '" + tenant_id + "'");
    }
    open_[tenant_id] = store;
    return std::shared_ptr<TenantStore>(store);
  }

  std::string root_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<SqliteTenantStore>> open_;
};

}  // namespace

std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root) {
  return std::make_unique<SqliteTenantStores>(root);
}

}  // namespace embedrec::store
