#include "store/sqlite/tenant_db_set.h"

#include <filesystem>

namespace embedrec::store {
namespace fs = std::filesystem;

TenantDbSet::TenantDbSet(std::string root, std::string file, const std::vector<Migration>* migrations,
                         SqliteDb::Options options)
    : root_(std::move(root)), file_(std::move(file)), migrations_(migrations), options_(std::move(options)) {}

SqliteDb::Options TenantDbSet::SmallDbOptions() {
  SqliteDb::Options o;
  o.pool_size = 2;
  o.cache_kib = 4 * 1024;
  o.mmap_bytes = 0;
  return o;
}

StatusOr<std::shared_ptr<SqliteDb>> TenantDbSet::Get(const std::string& tenant_id, bool create) {
  std::lock_guard lock(mu_);
  if (auto it = dbs_.find(tenant_id); it != dbs_.end()) return it->second;
  if (tenant_id.empty() || tenant_id.find('/') != std::string::npos || tenant_id[0] == '.') {
    return std::shared_ptr<SqliteDb>();
  }
  const fs::path dir = fs::path(root_) / tenant_id;
  const fs::path path = dir / file_;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || (!create && !fs::exists(path, ec))) return std::shared_ptr<SqliteDb>();
  SqliteDb::Options o = options_;
  o.path = path.string();
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(o, *migrations_));
  std::shared_ptr<SqliteDb> shared(std::move(db));
  dbs_.emplace(tenant_id, shared);
  return shared;
}

void TenantDbSet::Close(const std::string& tenant_id) {
  std::shared_ptr<SqliteDb> closing;  // released after the lock
  std::lock_guard lock(mu_);
  auto it = dbs_.find(tenant_id);
  if (it == dbs_.end()) return;
  closing = std::move(it->second);
  dbs_.erase(it);
}

}  // namespace embedrec::store
