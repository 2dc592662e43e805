// A thin RAII layer over SQLite used by every SQLite-backed store: a pool of
// connections (WAL, foreign keys, busy timeout), cached prepared statements,
// versioned migrations and SQLite result codes mapped to Status.
//
// Thread safety: SqliteDb is safe to use from many threads; each call checks a
// connection out of the pool for its duration. A SqliteConn and its statements
// belong to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace embedrec::store {

// One schema step. Versions start at 1 and increase by one; applied in order
// inside a transaction, recorded in PRAGMA user_version.
struct Migration {
  int version;
  const char* sql;
};

// A prepared statement borrowed from a connection's cache; reset on destruction.
class SqliteStmt {
 public:
  explicit SqliteStmt(sqlite3_stmt* s) : s_(s) {}
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  ~SqliteStmt();

  // Binds parameters by 1-based position.
  SqliteStmt& Bind(int i, std::string_view v);
  SqliteStmt& BindBlob(int i, std::string_view v);  // bytes, not text
  SqliteStmt& Bind(int i, int64_t v);
  SqliteStmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  SqliteStmt& Bind(int i, double v);
  SqliteStmt& BindNull(int i);
  SqliteStmt& Bind(int i, const std::optional<int64_t>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // Advances: true when a row is available, false when done, error otherwise.
  StatusOr<bool> Step();
  // Runs to completion, ignoring rows.
  Status Run();
  // Ready to run again with new bindings (for a statement kept across calls).
  void Reset();

  std::string Text(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  bool IsNull(int col) const;
  std::optional<int64_t> OptInt(int col) const {
    return IsNull(col) ? std::nullopt : std::optional<int64_t>(Int(col));
  }

 private:
  sqlite3_stmt* s_;
};

class SqliteConn {
 public:
  SqliteConn(sqlite3* db) : db_(db) {}
  ~SqliteConn();
  SqliteConn(const SqliteConn&) = delete;
  SqliteConn& operator=(const SqliteConn&) = delete;

  // A cached statement for `sql` (prepared once per connection).
  StatusOr<std::unique_ptr<SqliteStmt>> Prepare(const std::string& sql);
  // Runs one or more statements without results.
  Status Exec(const std::string& sql);
  // Rows changed by the last statement.
  int64_t Changes() const;
  // How long this connection's statements wait for another's lock.
  void SetBusyTimeout(int ms);
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class SqliteDb {
 public:
  struct Options {
    std::string path;          // database file; created when missing
    int pool_size = 4;         // connections at most, opened as needed (readers run in parallel under WAL)
    // How long a write waits for another connection's (an upload holds the
    // tenant's write lock while it stores its rows: seconds, tens of them
    // on a loaded machine) before it fails with kUnavailable, reason "busy".
    // Five seconds made a training job or a catalog change submitted during
    // a large upload fail (docs/benchmarks.md, the thirty-seventh session).
    int busy_timeout_ms = 30000;
    int64_t mmap_bytes = int64_t{1} << 30;  // address space for memory-mapped reads
    int64_t cache_kib = 64 * 1024;          // page cache per connection (grows on demand)
    // Checkpoints of the WAL run on a thread of their own (started when the
    // WAL reaches `checkpoint_pages` after a commit, gone when done) instead
    // of inside the commit that crosses the mark (SQLite's automatic one,
    // which holds that writer for the copy and its fsync).
    bool background_checkpoint = false;
    int checkpoint_pages = 1000;
  };

  // Opens (creating if needed) and migrates the database to the newest version.
  // Fails with kFailedPrecondition when the file is newer than this build knows.
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const Options& options,
                                                  const std::vector<Migration>& migrations);
  ~SqliteDb();

  // Runs `fn` on a pooled connection (no transaction of its own).
  Status Read(const std::function<Status(SqliteConn&)>& fn);
  // Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  Status Write(const std::function<Status(SqliteConn&)>& fn);

  // A connection held for a long transaction (an upload). Returned to the
  // pool when the handle is destroyed.
  class Lease {
   public:
    Lease(SqliteDb* db, std::unique_ptr<SqliteConn> c) : db_(db), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() { if (conn_) db_->Release(std::move(conn_)); }
    SqliteConn& conn() { return *conn_; }

   private:
    SqliteDb* db_;
    std::unique_ptr<SqliteConn> conn_;
  };
  Lease Checkout() {
    BeforeUse();
    return Lease(this, Acquire());
  }
  // Without the hook below: for the writer the hook waits for.
  Lease CheckoutUnsynced() { return Lease(this, Acquire()); }

  // Called before every Read, Write and Checkout (a tenant store flushes its
  // tracking writes there, so every use sees what was acknowledged). Set it
  // before the database is shared; clear it before what it calls goes.
  void SetBeforeUse(std::function<void()> hook) { before_use_ = std::move(hook); }

  int SchemaVersion() const { return schema_version_; }
  const std::string& path() const { return options_.path; }
  int busy_timeout_ms() const { return options_.busy_timeout_ms; }

 private:
  explicit SqliteDb(Options options) : options_(std::move(options)) {}
  StatusOr<std::unique_ptr<SqliteConn>> OpenConn();
  std::unique_ptr<SqliteConn> Acquire();
  void Release(std::unique_ptr<SqliteConn> conn);
  static int OnWalCommit(void* db, sqlite3* conn, const char* name, int pages);
  void StartCheckpoint();
  void BeforeUse() {
    if (before_use_) before_use_();
  }

  Options options_;
  std::function<void()> before_use_;
  int schema_version_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqliteConn>> idle_;
  int opened_ = 0;  // connections opened (≤ pool_size): a database used by one request at a time holds one
  std::mutex checkpoint_mu_;
  bool checkpointing_ = false;  // GUARDED_BY(checkpoint_mu_)
  bool checkpoint_again_ = false;  // GUARDED_BY(checkpoint_mu_): the WAL grew during a pass
  std::thread checkpointer_;    // GUARDED_BY(checkpoint_mu_)
};

// Maps a SQLite result code (and the connection's message) to a Status.
Status SqliteError(int rc, sqlite3* db, std::string_view what);

}  // namespace embedrec::store
