#include "store/postgres/pg_db.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "store/busy.h"

namespace embedrec::store {
namespace {

// 1: SQLSTATE class 08 (connection), 40001, 40P01, 57P01-03 (shutdown):
// worth another try on a fresh connection or transaction.
bool Retryable(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "40001" || state == "40P01" || state.rfind("57P0", 0) == 0;
}

Status ErrorOf(pg_conn* c, pg_result* r, const std::string& sql) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? state : "";
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (code == "23505") return Status::AlreadyExists(msg);
  // lock_timeout (tracking's bounded wait for the tenant's write lock): as
  // SQLite's busy database.
  if (code == "55P03") return StoreBusy(msg);
  if (code == "0A000" && msg.find("cached plan") != std::string::npos) return Status::Unavailable(msg);
  // A schema or table that is not there: a tenant deleted, or never made.
  if (code == "3F000" || code == "42P01") return Status::NotFound(msg);
  if (code == "23503" || code == "23514" || code == "23502") return Status::FailedPrecondition(msg);
  if (code.empty() || Retryable(code)) {
    if (PQstatus(c) != CONNECTION_OK || Retryable(code)) return Status::Unavailable("PostgreSQL: " + msg);
  }
  return Status::Internal("PostgreSQL " + code + ": " + msg + " (in: " + sql.substr(0, 120) + ")");
}

}  // namespace

void AppendCopyText(std::string_view v, std::string* out) {
  for (char ch : v) {
    switch (ch) {
      case '\\': *out += "\\\\"; break;
      case '\t': *out += "\\t"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      default: *out += ch;
    }
  }
}

std::string PgDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string PgArray(const std::vector<PgParam>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

PgRows::PgRows(pg_result* r) : r_(r) {}
PgRows& PgRows::operator=(PgRows&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
PgRows::~PgRows() {
  if (r_) PQclear(r_);
}
int PgRows::size() const { return r_ ? PQntuples(r_) : 0; }
int64_t PgRows::changed() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}
std::string PgRows::Text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), PQgetlength(r_, row, col));
}
int64_t PgRows::Int(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
double PgRows::Double(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
bool PgRows::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

bool PgConn::healthy() const {
  return c_ && PQstatus(c_) == CONNECTION_OK && PQpipelineStatus(c_) == PQ_PIPELINE_OFF &&
         PQtransactionStatus(c_) == PQTRANS_IDLE;
}

PgConn::Seen* PgConn::Repeated(const std::string& sql) {
  auto [it, first] = seen_.try_emplace(sql);
  if (!first) return &it->second;
  if (seen_.size() > 4 * kMaxPrepared) {  // statements run once, mostly: forget them
    std::erase_if(seen_, [&](const auto& e) { return e.second.name.empty() && e.first != sql; });
  }
  return nullptr;
}

pg_result* PgConn::Run(const std::string& sql, const std::vector<const char*>& values) {
  const int n = static_cast<int>(values.size());
  if (n == 0) return PQexec(c_, sql.c_str());
  Seen* seen = Repeated(sql);
  if (!seen) return PQexecParams(c_, sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
  if (seen->name.empty()) {
    if (prepared_ >= kMaxPrepared) {
      pg_result* d = PQexec(c_, "DEALLOCATE ALL");
      const bool done = d && PQresultStatus(d) == PGRES_COMMAND_OK;
      if (d) PQclear(d);
      if (!done) return PQexecParams(c_, sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
      for (auto& [text, entry] : seen_) entry.name.clear();
      prepared_ = 0;
    }
    std::string name = "er" + std::to_string(++next_name_);
    pg_result* p = PQprepare(c_, name.c_str(), sql.c_str(), n, nullptr);
    const bool ok = p && PQresultStatus(p) == PGRES_COMMAND_OK;
    if (!ok) return p;  // the error, as the statement's
    PQclear(p);
    seen->name = std::move(name);
    ++prepared_;
  }
  pg_result* r = PQexecPrepared(c_, seen->name.c_str(), n, values.data(), nullptr, nullptr, 0);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state && std::strcmp(state, "0A000") == 0) {
    // "cached plan must not change result type": a table changed under the
    // prepared statement (a migration by a newer node). Prepared again on its next run.
    seen_.erase(sql);
  }
  return r;
}

StatusOr<PgRows> PgConn::Exec(const std::string& sql, const std::vector<PgParam>& params) {
  if (begin_pending_) {
    const PgStatement one{sql, params};
    ASSIGN_OR_RETURN(auto rows, RunPipeline({&one}, /*commit=*/false));
    return std::move(rows[0]);
  }
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) values[i] = params[i] ? params[i]->c_str() : nullptr;
  pg_result* r = Run(sql, values);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Status s = ErrorOf(c_, r, sql);
    if (r) PQclear(r);
    return s;
  }
  return PgRows(r);
}

StatusOr<std::vector<PgRows>> PgConn::Pipeline(const std::vector<PgStatement>& statements, bool commit) {
  std::vector<const PgStatement*> list;
  for (const auto& s : statements) list.push_back(&s);
  return RunPipeline(list, commit);
}

StatusOr<std::vector<PgRows>> PgConn::RunPipeline(const std::vector<const PgStatement*>& statements, bool commit) {
  static const PgStatement kBegin{"BEGIN", {}}, kCommit{"COMMIT", {}};
  std::vector<const PgStatement*> all;
  const bool begin = begin_pending_;
  if (begin) all.push_back(&kBegin);
  all.insert(all.end(), statements.begin(), statements.end());
  if (commit) all.push_back(&kCommit);
  begin_pending_ = false;
  if (PQenterPipelineMode(c_) != 1) return Status::Unavailable(std::string("PostgreSQL: ") + PQerrorMessage(c_));
  auto lost = [&] { return Status::Unavailable(std::string("PostgreSQL pipeline: ") + PQerrorMessage(c_)); };
  // 1. Send: a statement run before is prepared (its Parse in the same round trip).
  std::vector<std::string*> preparing(all.size(), nullptr);  // the name being prepared, if any
  for (size_t i = 0; i < all.size(); ++i) {
    const PgStatement& st = *all[i];
    const int n = static_cast<int>(st.params.size());
    std::vector<const char*> values(st.params.size());
    for (size_t k = 0; k < st.params.size(); ++k) values[k] = st.params[k] ? st.params[k]->c_str() : nullptr;
    Seen* seen = n > 0 ? Repeated(st.sql) : nullptr;
    if (seen && seen->name.empty() && prepared_ >= kMaxPrepared) seen = nullptr;  // no room: unprepared
    int sent;
    if (!seen) {
      sent = PQsendQueryParams(c_, st.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
    } else {
      if (seen->name.empty()) {
        seen->name = "er" + std::to_string(++next_name_);
        ++prepared_;
        preparing[i] = &seen->name;
        if (PQsendPrepare(c_, seen->name.c_str(), st.sql.c_str(), n, nullptr) != 1) return lost();
      }
      sent = PQsendQueryPrepared(c_, seen->name.c_str(), n, values.data(), nullptr, nullptr, 0);
    }
    if (sent != 1) return lost();  // the connection is dropped (its pipeline is not finished)
  }
  if (PQpipelineSync(c_) != 1) return lost();
  // 2. Read: each command's result, then a null; the sync's last.
  Status error;
  std::vector<PgRows> rows;
  for (size_t i = 0; i < all.size(); ++i) {
    for (int command = preparing[i] ? 0 : 1; command < 2; ++command) {
      pg_result* r = PQgetResult(c_);
      if (!r) return lost();
      const ExecStatusType st = PQresultStatus(r);
      const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && error.ok() && st != PGRES_PIPELINE_ABORTED) error = ErrorOf(c_, r, all[i]->sql);
      if (command == 0) {  // the Parse
        if (!ok) {
          preparing[i]->clear();
          --prepared_;
        }
        PQclear(r);
      } else if (ok && all[i] != &kBegin && all[i] != &kCommit) {
        rows.emplace_back(r);
      } else {
        PQclear(r);
      }
      while ((r = PQgetResult(c_)) != nullptr) PQclear(r);
    }
  }
  pg_result* sync = PQgetResult(c_);
  const bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  if (sync) PQclear(sync);
  if (!synced || PQexitPipelineMode(c_) != 1) return lost();
  if (!error.ok()) return error;
  if (commit) committed_ = true;
  return rows;
}

Status PgConn::SendPendingBegin() {
  if (!begin_pending_) return Status::Ok();
  begin_pending_ = false;
  return Exec("BEGIN").status();
}

Status PgConn::CopyIn(const std::string& copy_sql, const std::string& data) {
  RETURN_IF_ERROR(SendPendingBegin());
  pg_result* r = PQexec(c_, copy_sql.c_str());
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
    Status s = ErrorOf(c_, r, copy_sql);
    if (r) PQclear(r);
    return s;
  }
  PQclear(r);
  Status s;
  if (PQputCopyData(c_, data.data(), static_cast<int>(data.size())) != 1 || PQputCopyEnd(c_, nullptr) != 1) {
    s = Status::Unavailable(std::string("PostgreSQL COPY: ") + PQerrorMessage(c_));
  }
  while ((r = PQgetResult(c_)) != nullptr) {  // the COPY's outcome, then the end
    if (s.ok() && PQresultStatus(r) != PGRES_COMMAND_OK) s = ErrorOf(c_, r, copy_sql);
    PQclear(r);
  }
  return s;
}

Status PgConn::Script(const std::string& sql) {
  RETURN_IF_ERROR(SendPendingBegin());
  pg_result* r = PQexec(c_, sql.c_str());
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  Status s = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? Status::Ok() : ErrorOf(c_, r, sql);
  if (r) PQclear(r);
  return s;
}

Status PgConn::Transaction(const std::function<Status(PgConn&)>& fn) {
  begin_pending_ = true;  // sent with fn's first statement
  committed_ = false;
  Status s = fn(*this);
  const bool began = !begin_pending_;
  begin_pending_ = false;
  if (s.ok() && began && !committed_) s = Exec("COMMIT").status();
  committed_ = false;
  if (!s.ok() && PQstatus(c_) == CONNECTION_OK && PQpipelineStatus(c_) == PQ_PIPELINE_OFF &&
      PQtransactionStatus(c_) != PQTRANS_IDLE) {
    (void)Exec("ROLLBACK");
  }
  return s;
}

std::string PgIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

StatusOr<std::unique_ptr<PgConn>> PgDb::Connect() {
  const std::string timeout = std::to_string(options_.connect_timeout_seconds);
  // NOTICEs (e.g. "schema already exists, skipping") are not worth a line.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", "options", nullptr};
  const char* values[] = {options_.url.c_str(), timeout.c_str(), "embedrec", "-c client_min_messages=warning",
                          nullptr};
  // expand_dbname: the URL's parts are used; the later keys add to them.
  auto conn = std::make_unique<PgConn>(PQconnectdbParams(keys, values, 1));
  if (!conn->raw() || PQstatus(conn->raw()) != CONNECTION_OK) {
    std::string msg = conn->raw() ? PQerrorMessage(conn->raw()) : "out of memory";
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Unavailable("cannot connect to PostgreSQL: " + msg);
  }
  if (!options_.schema.empty()) {
    RETURN_IF_ERROR(conn->Exec("SET search_path TO " + PgIdentifier(options_.schema)).status());
  }
  return conn;
}

std::string InSchema(const std::string& sql, const std::string& quoted_schema) {
  std::string out;
  out.reserve(sql.size() + 64);
  size_t at = 0;
  for (size_t p; (p = sql.find("{s}", at)) != std::string::npos; at = p + 3) {
    out.append(sql, at, p - at);
    out += quoted_schema;
  }
  out.append(sql, at);
  return out;
}

Status MigrateSchema(PgConn& conn, const std::string& schema_name, const std::vector<PgMigration>& migrations) {
  const std::string schema = PgIdentifier(schema_name);
  return conn.Transaction([&](PgConn& c) -> Status {
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"embedrec-migrate:" + schema_name})
                        .status());
    RETURN_IF_ERROR(c.Exec("CREATE SCHEMA IF NOT EXISTS " + schema).status());
    RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS " + schema +
                           ".schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
                        .status());
    ASSIGN_OR_RETURN(auto have, c.Exec("SELECT COALESCE(MAX(version), 0) FROM " + schema + ".schema_migrations"));
    const int64_t current = have.Int(0, 0);
    for (const auto& m : migrations) {
      if (m.version <= current) continue;
      RETURN_IF_ERROR(c.Script(InSchema(m.sql, schema)));
      RETURN_IF_ERROR(c.Exec("INSERT INTO " + schema + ".schema_migrations (version) VALUES ($1)",
                             {std::to_string(m.version)}).status());
    }
    return Status::Ok();
  });
}

StatusOr<std::unique_ptr<PgDb>> PgDb::Open(const PgOptions& options, const std::vector<PgMigration>& migrations) {
  std::unique_ptr<PgDb> db(new PgDb(options));
  ASSIGN_OR_RETURN(auto conn, db->Connect());
  if (!options.schema.empty()) RETURN_IF_ERROR(MigrateSchema(*conn, options.schema, migrations));
  db->open_ = 1;
  db->Release(std::move(conn));
  return db;
}

PgDb::~PgDb() = default;

StatusOr<std::unique_ptr<PgConn>> PgDb::Acquire() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < options_.pool_size; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      // An idle connection has nothing to read unless the server is closing
      // it (a restart, an administrator): such a one is made again.
      pollfd p{PQsocket(c->raw()), POLLIN, 0};
      const bool closing = p.fd < 0 || ::poll(&p, 1, 0) != 0 ||
                           PQpipelineStatus(c->raw()) != PQ_PIPELINE_OFF;  // a pipeline cut short
      if (!closing && PQstatus(c->raw()) == CONNECTION_OK) {
        lock.unlock();
        if (!c->healthy()) (void)c->Exec("ROLLBACK");  // left in a transaction by a failure
        return c;
      }
      // Lost since (a server restart): made again below.
    } else {
      ++open_;
    }
  }
  auto c = Connect();
  if (!c.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
  }
  return c;
}

void PgDb::Release(std::unique_ptr<PgConn> c) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(c));
  cv_.notify_one();
}

StatusOr<PgDb::Lease> PgDb::Checkout() {
  ASSIGN_OR_RETURN(auto c, Acquire());
  return Lease(this, std::move(c));
}

Status PgDb::With(const std::function<Status(PgConn&)>& fn) {
  ASSIGN_OR_RETURN(auto c, Acquire());
  Status s = fn(*c);
  Release(std::move(c));
  return s;
}

StatusOr<PgRows> PgDb::Exec(const std::string& sql, const std::vector<PgParam>& params) {
  PgRows out;
  RETURN_IF_ERROR(With([&](PgConn& c) -> Status {
    ASSIGN_OR_RETURN(out, c.Exec(sql, params));
    return Status::Ok();
  }));
  return out;
}

Status PgDb::Transaction(const std::function<Status(PgConn&)>& fn) {
  Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = With([&](PgConn& c) { return c.Transaction(fn); });
    if (s.code() != StatusCode::kUnavailable || IsStoreBusy(s)) break;  // busy: it waited already
  }
  return s;
}

}  // namespace embedrec::store
