#include "store/sqlite/tenant_db_set.h"

#include <algorithm>
#include <filesystem>

namespace embedrec::store {
namespace fs = std::filesystem;

TenantDbSet::TenantDbSet(std::string root, std::string file, const std::vector<Migration>* migrations,
                         SqliteDb::Options options, size_t max_open)
    : root_(std::move(root)),
      file_(std::move(file)),
      migrations_(migrations),
      options_(std::move(options)),
      max_open_(std::max<size_t>(1, max_open)) {}

SqliteDb::Options TenantDbSet::SmallDbOptions() {
  SqliteDb::Options o;
  o.pool_size = 2;
  o.cache_kib = 4 * 1024;
  o.mmap_bytes = 0;
  return o;
}

StatusOr<std::shared_ptr<SqliteDb>> TenantDbSet::Get(const std::string& tenant_id, bool create) {
  std::shared_ptr<SqliteDb> closing;  // released after the lock
  std::lock_guard lock(mu_);
  if (auto it = dbs_.find(tenant_id); it != dbs_.end()) {
    use_.splice(use_.begin(), use_, it->second.use);
    return it->second.db;
  }
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
  ++opened_;
  std::shared_ptr<SqliteDb> shared(std::move(db));
  use_.push_front(tenant_id);
  dbs_.emplace(tenant_id, Entry{shared, use_.begin()});
  if (dbs_.size() > max_open_) {
    auto oldest = dbs_.find(use_.back());
    closing = std::move(oldest->second.db);
    dbs_.erase(oldest);
    use_.pop_back();
  }
  return shared;
}

void TenantDbSet::Close(const std::string& tenant_id) {
  std::shared_ptr<SqliteDb> closing;  // released after the lock
  std::lock_guard lock(mu_);
  auto it = dbs_.find(tenant_id);
  if (it == dbs_.end()) return;
  closing = std::move(it->second.db);
  use_.erase(it->second.use);
  dbs_.erase(it);
}

size_t TenantDbSet::OpenCount() const {
  std::lock_guard lock(mu_);
  return dbs_.size();
}

uint64_t TenantDbSet::Opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

}  // namespace embedrec::store
