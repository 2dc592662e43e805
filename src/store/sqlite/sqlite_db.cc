#include "store/sqlite/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "store/busy.h"

namespace embedrec::store {

Status SqliteError(int rc, sqlite3* db, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::AlreadyExists(msg);
      }
      return Status::FailedPrecondition(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreBusy(msg);
    default:
      return Status::Internal(msg);
  }
}

SqliteStmt::~SqliteStmt() { Reset(); }

void SqliteStmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

SqliteStmt& SqliteStmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
SqliteStmt& SqliteStmt::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT);
  return *this;
}
SqliteStmt& SqliteStmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
SqliteStmt& SqliteStmt::Bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
  return *this;
}
SqliteStmt& SqliteStmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

StatusOr<bool> SqliteStmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(sqlite3_extended_errcode(sqlite3_db_handle(s_)), sqlite3_db_handle(s_),
                     "sqlite step");
}

Status SqliteStmt::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string SqliteStmt::Text(int col) const {
  const auto* p = sqlite3_column_text(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col))
           : std::string();
}
std::string SqliteStmt::Blob(int col) const {
  const auto* p = sqlite3_column_blob(s_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(s_, col)) : std::string();
}
int64_t SqliteStmt::Int(int col) const { return sqlite3_column_int64(s_, col); }
double SqliteStmt::Double(int col) const { return sqlite3_column_double(s_, col); }
bool SqliteStmt::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

SqliteConn::~SqliteConn() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

StatusOr<std::unique_ptr<SqliteStmt>> SqliteConn::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return SqliteError(rc, db_, "sqlite prepare");
    it = cache_.emplace(sql, s).first;
  }
  return std::make_unique<SqliteStmt>(it->second);
}

namespace {
// A transaction-control statement (BEGIN, COMMIT, SAVEPOINT…): a handful of
// fixed texts run on every write, worth keeping prepared (sqlite3_exec of
// them was ~6 % of a tracked event's samples, its parsing ~2.6 %). Other
// Exec texts (schema, pragmas) may be built at run time and would fill the cache.
bool IsTransactionControl(std::string_view sql) {
  if (sql.size() > 48 || sql.find(';') != std::string_view::npos) return false;
  for (std::string_view head : {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT ", "RELEASE "}) {
    if (sql.substr(0, head.size()) == head) return true;
  }
  return false;
}
}  // namespace

Status SqliteConn::Exec(const std::string& sql) {
  if (IsTransactionControl(sql)) {
    ASSIGN_OR_RETURN(auto st, Prepare(sql));
    return st->Run();
  }
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return SqliteError(sqlite3_extended_errcode(db_), nullptr, "sqlite exec: " + msg);
  }
  return Status::Ok();
}

int64_t SqliteConn::Changes() const { return sqlite3_changes64(db_); }

void SqliteConn::SetBusyTimeout(int ms) { sqlite3_busy_timeout(db_, ms); }

StatusOr<std::unique_ptr<SqliteConn>> SqliteDb::OpenConn() {
  // A new database file is readable by its owner only (SQLite gives its WAL
  // and shared-memory files the same mode): tenants' data and credentials'
  // hashes are nobody else's on the machine.
  if (int fd = ::open(options_.path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600); fd >= 0) ::close(fd);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(options_.path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto conn = std::make_unique<SqliteConn>(raw);
  if (rc != SQLITE_OK) return SqliteError(rc, raw, "open " + options_.path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options_.busy_timeout_ms);
  // WAL: readers never wait for the writer. synchronous=NORMAL: a committed
  // transaction survives a crash or kill of the process (it is in the OS's
  // page cache); a power loss may lose the last commits before a checkpoint.
  // mmap: page reads without a copy through read().
  // Switching a new file to WAL takes an exclusive lock, and SQLite answers
  // "locked" at once (no busy handler) to an opener that races another one:
  // retried, within the busy timeout.
  const std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                              "PRAGMA mmap_size=" + std::to_string(options_.mmap_bytes) + "; PRAGMA cache_size=-" +
                              std::to_string(options_.cache_kib) + ";";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  while (true) {
    Status s = conn->Exec(pragmas);
    if (s.ok()) break;
    if (s.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (options_.background_checkpoint) {
    RETURN_IF_ERROR(conn->Exec("PRAGMA wal_autocheckpoint=0"));
    sqlite3_wal_hook(raw, &SqliteDb::OnWalCommit, this);
  }
  return conn;
}

int SqliteDb::OnWalCommit(void* db, sqlite3*, const char*, int pages) {
  auto* self = static_cast<SqliteDb*>(db);
  if (pages >= self->options_.checkpoint_pages) self->StartCheckpoint();
  return SQLITE_OK;
}

void SqliteDb::StartCheckpoint() {
  std::lock_guard lock(checkpoint_mu_);
  if (checkpointing_) {
    checkpoint_again_ = true;  // commits after the running one began: copied by another pass
    return;
  }
  checkpointing_ = true;
  if (checkpointer_.joinable()) checkpointer_.join();  // it has finished
  checkpointer_ = std::thread([this] {
    auto conn = Acquire();
    std::unique_lock lock(checkpoint_mu_);
    do {
      checkpoint_again_ = false;
      lock.unlock();
      // PASSIVE: copies what no reader still needs, beside the readers and
      // the writer; what it cannot copy now, a later one will.
      int rc = sqlite3_wal_checkpoint_v2(conn->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        spdlog::warn("{}: checkpoint failed: {}", options_.path, sqlite3_errmsg(conn->raw()));
      }
      lock.lock();
    } while (checkpoint_again_);
    checkpointing_ = false;
    lock.unlock();
    Release(std::move(conn));
  });
}

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const Options& options,
                                                   const std::vector<Migration>& migrations) {
  // Before SQLite's first use: no global memory statistics (a mutex taken on
  // every allocation otherwise).
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  std::unique_ptr<SqliteDb> db(new SqliteDb(options));
  ASSIGN_OR_RETURN(auto first, db->OpenConn());

  // Migrate with the first connection, one transaction per step. The
  // version is read again inside each step's write transaction: another
  // process opening the same file at once may have applied it meanwhile.
  auto current = [&]() -> StatusOr<int> {
    ASSIGN_OR_RETURN(auto stmt, first->Prepare("PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row ? static_cast<int>(stmt->Int(0)) : 0;
  };
  ASSIGN_OR_RETURN(int version, current());
  int newest = migrations.empty() ? 0 : migrations.back().version;
  if (version > newest) {
    return Status::FailedPrecondition(options.path + " has schema version " +
                                      std::to_string(version) + ", newer than this build's " +
                                      std::to_string(newest));
  }
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    RETURN_IF_ERROR(first->Exec("BEGIN IMMEDIATE"));
    auto now = current();
    if (now.ok() && *now >= m.version) {  // applied by the other opener
      RETURN_IF_ERROR(first->Exec("COMMIT"));
      version = *now;
      continue;
    }
    Status s = now.status();
    if (s.ok()) s = first->Exec(m.sql);
    if (s.ok()) s = first->Exec("PRAGMA user_version = " + std::to_string(m.version));
    if (!s.ok()) {
      (void)first->Exec("ROLLBACK");
      return Status::Internal("migration " + std::to_string(m.version) + " of " + options.path +
                              " failed: " + s.message());
    }
    RETURN_IF_ERROR(first->Exec("COMMIT"));
    version = m.version;
  }
  db->schema_version_ = version;
  db->idle_.push_back(std::move(first));
  db->opened_ = 1;  // the others are opened when requests need them at once
  return db;
}

SqliteDb::~SqliteDb() {
  std::thread checkpointer;
  {
    std::lock_guard lock(checkpoint_mu_);  // the thread takes it as it ends: joined outside
    checkpointer = std::move(checkpointer_);
  }
  if (checkpointer.joinable()) checkpointer.join();
  std::lock_guard lock(mu_);
  idle_.clear();
}

std::unique_ptr<SqliteConn> SqliteDb::Acquire() {
  std::unique_lock lock(mu_);
  if (idle_.empty() && opened_ < options_.pool_size) {
    ++opened_;
    lock.unlock();
    auto c = OpenConn();
    if (c.ok()) return std::move(*c);
    lock.lock();
    --opened_;  // cannot open another now: wait for one of those open
  }
  cv_.wait(lock, [&] { return !idle_.empty(); });
  auto c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void SqliteDb::Release(std::unique_ptr<SqliteConn> conn) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

Status SqliteDb::Read(const std::function<Status(SqliteConn&)>& fn) {
  BeforeUse();
  auto conn = Acquire();
  Status s = fn(*conn);
  Release(std::move(conn));
  return s;
}

Status SqliteDb::Write(const std::function<Status(SqliteConn&)>& fn) {
  BeforeUse();
  auto conn = Acquire();
  Status s = conn->Exec("BEGIN IMMEDIATE");
  if (s.ok()) {
    s = fn(*conn);
    if (s.ok()) {
      s = conn->Exec("COMMIT");
      if (!s.ok()) (void)conn->Exec("ROLLBACK");
    } else {
      (void)conn->Exec("ROLLBACK");
    }
  }
  Release(std::move(conn));
  return s;
}

}  // namespace embedrec::store
