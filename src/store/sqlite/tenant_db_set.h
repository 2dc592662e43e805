// Per-tenant SQLite databases beside a tenant's main database
// (`root`/<tenant_id>/<file>), opened on first use and kept open until the
// tenant is closed (idle or evicted) or dropped (deleted), or until more
// than `max_open` are open: then the least recently used is closed (a
// handle still in use lives until its user lets it go). The bound keeps a
// node's descriptors and SQLite's memory (~180 KB per open database, most
// of it the parsed schema: docs/benchmarks.md) flat in its number of tenants; a tenant beyond it is
// opened again when next used. The recommendation log and the analytics
// rollups each hold one set.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/sqlite/sqlite_db.h"

namespace embedrec::store {

class TenantDbSet {
 public:
  static constexpr size_t kDefaultMaxOpen = 256;

  TenantDbSet(std::string root, std::string file, const std::vector<Migration>* migrations,
              SqliteDb::Options options = SmallDbOptions(), size_t max_open = kDefaultMaxOpen);

  // For databases written by one background thread and read now and then:
  // two connections, a 4 MiB page cache each, no memory map.
  static SqliteDb::Options SmallDbOptions();

  // The tenant's database, opened once; null when the tenant has no
  // directory, or (without `create`) no such file yet.
  StatusOr<std::shared_ptr<SqliteDb>> Get(const std::string& tenant_id, bool create);
  // Forgets the open handle (closed once its last user lets it go).
  void Close(const std::string& tenant_id);
  // How many handles the set holds, and how many it has opened in all.
  size_t OpenCount() const;
  uint64_t Opened() const;

 private:
  struct Entry {
    std::shared_ptr<SqliteDb> db;
    std::list<std::string>::iterator use;  // its place in use_, the most recent first
  };
  const std::string root_, file_;
  const std::vector<Migration>* migrations_;
  const SqliteDb::Options options_;
  const size_t max_open_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> dbs_;
  std::list<std::string> use_;
  uint64_t opened_ = 0;
};

}  // namespace embedrec::store
