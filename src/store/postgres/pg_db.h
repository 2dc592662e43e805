// A thin layer over libpq used by every PostgreSQL-backed store: a pool of
// connections, each with its search_path set to one schema; parameterised
// statements (text format); versioned migrations applied once across nodes
// (under an advisory lock); SQLSTATEs mapped to Status.
//
// Thread safety: PgDb is safe to use from many threads; each call checks a
// connection out of the pool for its duration. A PgConn belongs to one
// thread at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace embedrec::store {

// One schema step, as for SQLite: versions from 1, applied in order, each in
// its own transaction, recorded in the schema's `schema_migrations` table.
struct PgMigration {
  int version;
  const char* sql;
};

// A statement's parameter: text, or NULL.
using PgParam = std::optional<std::string>;

// The rows a statement returned (text format), and how many it changed.
class PgRows {
 public:
  PgRows() = default;
  explicit PgRows(pg_result* r);
  PgRows(PgRows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgRows& operator=(PgRows&& o) noexcept;
  PgRows(const PgRows&) = delete;
  ~PgRows();

  int size() const;
  int64_t changed() const;  // rows inserted, updated or deleted
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;
  bool IsNull(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const {
    return IsNull(row, col) ? std::nullopt : std::optional<int64_t>(Int(row, col));
  }
  bool Bool(int row, int col) const { return Text(row, col) == "t"; }

 private:
  pg_result* r_ = nullptr;
};

// One statement of a pipeline.
struct PgStatement {
  std::string sql;
  std::vector<PgParam> params;
};

class PgConn {
 public:
  explicit PgConn(pg_conn* c) : c_(c) {}
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs `sql` with $1… bound to `params`. Errors: kAlreadyExists (unique
  // violation), kFailedPrecondition (foreign key or check violation),
  // kNotFound (no such schema or table: a tenant deleted), kUnavailable
  // (connection lost, serialization failure, deadlock: retry), kInternal
  // otherwise. A statement with parameters run a second time on this
  // connection is prepared, then executed by name: PostgreSQL parses and
  // plans it once (planning was most of a short read's cost), see
  // kMaxPrepared.
  StatusOr<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs the statements in one round trip (libpq's pipeline mode), in
  // order; their rows. The first error is the answer (the statements after
  // it are not run). With `commit`, COMMIT follows them in the same round
  // trip (inside Transaction: the transaction ends there).
  StatusOr<std::vector<PgRows>> Pipeline(const std::vector<PgStatement>& statements, bool commit = false);
  // COPY … FROM STDIN (`copy_sql`) fed `data` in COPY's text format.
  Status CopyIn(const std::string& copy_sql, const std::string& data);
  // Runs several statements without parameters (a migration).
  Status Script(const std::string& sql);
  // BEGIN, fn, COMMIT (ROLLBACK when fn or COMMIT fails). BEGIN goes with
  // fn's first statement, in the same round trip.
  Status Transaction(const std::function<Status(PgConn&)>& fn);
  // Connected and not inside a transaction.
  bool healthy() const;
  pg_conn* raw() { return c_; }

 private:
  // Statements prepared per connection, at most; past it they are all
  // deallocated and prepared again as they come (a bound on the server's
  // memory with many tenants: each tenant's statements name its schema).
  static constexpr size_t kMaxPrepared = 256;
  struct Seen {
    std::string name;  // "" until prepared
  };
  // The statement's entry when it ran on this connection before (to
  // prepare, or prepared); null on its first run. Forgets one-off statements
  // past a bound.
  Seen* Repeated(const std::string& sql);
  pg_result* Run(const std::string& sql, const std::vector<const char*>& values);
  StatusOr<std::vector<PgRows>> RunPipeline(const std::vector<const PgStatement*>& statements, bool commit);
  Status SendPendingBegin();  // BEGIN now, when Transaction left it to the first statement

  pg_conn* c_;
  std::unordered_map<std::string, Seen> seen_;  // statements with parameters, by text
  size_t prepared_ = 0;
  uint64_t next_name_ = 0;
  bool begin_pending_ = false;  // in Transaction, before its first statement
  bool committed_ = false;      // in Transaction, by a Pipeline with commit
};

struct PgOptions {
  std::string url;      // "postgresql://user:password@host:port/database"
  // Created when missing, and every connection's search_path; "": none (the
  // caller names each table's schema, e.g. one schema per tenant).
  std::string schema;
  int pool_size = 8;
  int connect_timeout_seconds = 5;
};

class PgDb {
 public:
  // Connects, creates the schema and applies the migrations it lacks.
  // kUnavailable when the server cannot be reached.
  static StatusOr<std::unique_ptr<PgDb>> Open(const PgOptions& options,
                                              const std::vector<PgMigration>& migrations);
  ~PgDb();

  // Runs fn on a pooled connection (waiting for one when all are busy).
  Status With(const std::function<Status(PgConn&)>& fn);
  // A connection held until the lease is dropped (an upload's transaction).
  class Lease {
   public:
    Lease(PgDb* db, std::unique_ptr<PgConn> c) : db_(db), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) db_->Release(std::move(c_));
    }
    PgConn& conn() { return *c_; }

   private:
    PgDb* db_;
    std::unique_ptr<PgConn> c_;
  };
  StatusOr<Lease> Checkout();
  // A connection of its own, outside the pool (a LISTEN loop).
  StatusOr<std::unique_ptr<PgConn>> Dedicated() { return Connect(); }
  // One statement on a pooled connection (its own transaction).
  StatusOr<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // fn in a transaction; retried (up to 3 times) when PostgreSQL reports a
  // serialization failure or deadlock, or the connection was lost before it
  // began.
  Status Transaction(const std::function<Status(PgConn&)>& fn);

  const std::string& schema() const { return options_.schema; }

 private:
  explicit PgDb(PgOptions options) : options_(std::move(options)) {}
  StatusOr<std::unique_ptr<PgConn>> Connect();
  StatusOr<std::unique_ptr<PgConn>> Acquire();
  void Release(std::unique_ptr<PgConn> c);

  PgOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  int open_ = 0;
};

// A double as PostgreSQL reads it back exactly.
std::string PgDouble(double v);
// Appends `v` in COPY's text format (backslash, tab, newline and carriage
// return escaped), for PgConn::CopyIn's data.
void AppendCopyText(std::string_view v, std::string* out);
// A PostgreSQL array literal of text values ({"a","b"}; NULL for nullopt),
// for a statement that takes a whole column at once: unnest($1::text[]).
std::string PgArray(const std::vector<PgParam>& values);

// `name` quoted as an SQL identifier ("a""b").
std::string PgIdentifier(const std::string& name);

// Creates `schema` when missing and applies the migrations it lacks, in one
// transaction under an advisory lock (nodes doing it at once: one does it).
// A migration's text names its tables "{s}.t", {s} standing for the schema.
Status MigrateSchema(PgConn& c, const std::string& schema, const std::vector<PgMigration>& migrations);

// `sql` with every "{s}" replaced by the quoted `schema`.
std::string InSchema(const std::string& sql, const std::string& quoted_schema);

}  // namespace embedrec::store
