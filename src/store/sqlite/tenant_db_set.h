// Per-tenant SQLite databases beside a tenant's main database
// (`root`/<tenant_id>/<file>), opened on first use and kept open until the
// tenant is closed (idle) or dropped (deleted). The recommendation log and
// the analytics rollups each hold one set.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.h"

namespace embedrec::store {

class TenantDbSet {
 public:
  TenantDbSet(std::string root, std::string file, const std::vector<Migration>* migrations,
              SqliteDb::Options options = SmallDbOptions());

  // For databases written by one background thread and read now and then:
  // two connections, a 4 MiB page cache each, no memory map.
  static SqliteDb::Options SmallDbOptions();

  // The tenant's database, opened once; null when the tenant has no
  // directory, or (without `create`) no such file yet.
  StatusOr<std::shared_ptr<SqliteDb>> Get(const std::string& tenant_id, bool create);
  // Forgets the open handle (closed once its last user lets it go).
  void Close(const std::string& tenant_id);

 private:
  const std::string root_, file_;
  const std::vector<Migration>* migrations_;
  const SqliteDb::Options options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<SqliteDb>> dbs_;
};

}  // namespace embedrec::store
