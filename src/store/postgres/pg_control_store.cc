// PostgreSQL backend of ControlStore: the same tables as SQLite's, in a
// schema of their own ("control" by default), shared by every node.
#include <string>

#include "common/strings.h"
#include "store/control_store.h"
#include "store/postgres/pg_db.h"

namespace embedrec::store {
namespace {

const std::vector<PgMigration>& ControlMigrations() {
  static const std::vector<PgMigration> kMigrations = {
      {1, R"sql(
CREATE TABLE tenants (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  settings_json TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  status TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  last_login_at_ms BIGINT
);
CREATE INDEX users_by_tenant ON users(tenant_id);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  key_prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  last_used_at_ms BIGINT,
  revoked_at_ms BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used BOOLEAN NOT NULL DEFAULT false,
  revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
      {2, "ALTER TABLE api_keys ADD COLUMN expires_at_ms BIGINT;"},
  };
  return kMigrations;
}

PgParam Opt(const std::optional<int64_t>& v) {
  return v ? PgParam(std::to_string(*v)) : std::nullopt;
}

constexpr const char* kTenantCols = "id, name, slug, status, settings_json, created_at_ms, updated_at_ms, seq";
TenantRecord ReadTenant(const PgRows& r, int i) {
  return TenantRecord{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Int(i, 5), r.Int(i, 6)};
}

constexpr const char* kUserCols =
    "id, email, email_lower, tenant_id, role, status, password_hash, created_at_ms, last_login_at_ms";
UserRecord ReadUser(const PgRows& r, int i) {
  return UserRecord{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4),
                    r.Text(i, 5), r.Text(i, 6), r.Int(i, 7),  r.OptInt(i, 8)};
}

constexpr const char* kKeyCols =
    "id, tenant_id, name, key_prefix, key_hash, scopes, created_by, created_at_ms, last_used_at_ms, revoked_at_ms, "
    "expires_at_ms";
ApiKeyRecord ReadKey(const PgRows& r, int i) {
  return ApiKeyRecord{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4),
                      SplitList(r.Text(i, 5), ' '), r.Text(i, 6), r.Int(i, 7), r.OptInt(i, 8), r.OptInt(i, 9),
                      r.OptInt(i, 10)};
}

class PgControlStore final : public ControlStore {
 public:
  explicit PgControlStore(std::unique_ptr<PgDb> db) : db_(std::move(db)) {}

  Status Ping() override { return Exec("SELECT 1").status(); }

  Status CreateTenant(const TenantRecord& t) override {
    Status s = Exec("INSERT INTO tenants (id, name, slug, status, settings_json, created_at_ms, updated_at_ms) "
                    "VALUES ($1,$2,$3,$4,$5,$6,$7)",
                    {t.id, t.name, t.slug, t.status, t.settings_json, std::to_string(t.created_at_ms),
                     std::to_string(t.updated_at_ms)})
                   .status();
    if (s.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("a tenant with slug '" + t.slug + "' already exists", "duplicate_slug");
    }
    return s;
  }

  StatusOr<TenantRecord> GetTenant(const std::string& id) override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id=$1", {id}));
    if (r.size() == 0) return Status::NotFound("tenant '" + id + "' does not exist");
    return ReadTenant(r, 0);
  }

  StatusOr<TenantPage> ListTenants(const std::string& cursor, int limit) override {
    ASSIGN_OR_RETURN(const int64_t after, ParseTenantCursor(cursor));
    TenantPage page;
    RETURN_IF_ERROR(db_->With([&](PgConn& c) -> Status {
      ASSIGN_OR_RETURN(auto r, c.Exec(std::string("SELECT ") + kTenantCols +
                                          " FROM tenants WHERE seq > $1 ORDER BY seq LIMIT $2",
                                      {std::to_string(after), std::to_string(limit + 1)}));
      for (int i = 0; i < r.size(); ++i) {
        if (static_cast<int>(page.tenants.size()) == limit) {
          page.next_cursor = std::to_string(r.Int(i - 1, 7));
          break;
        }
        page.tenants.push_back(ReadTenant(r, i));
      }
      ASSIGN_OR_RETURN(auto n, c.Exec("SELECT COUNT(*) FROM tenants"));
      page.total = n.Int(0, 0);
      return Status::Ok();
    }));
    return page;
  }

  Status UpdateTenant(const TenantRecord& t) override {
    ASSIGN_OR_RETURN(auto r, Exec("UPDATE tenants SET name=$1, status=$2, settings_json=$3, updated_at_ms=$4 "
                                  "WHERE id=$5",
                                  {t.name, t.status, t.settings_json, std::to_string(t.updated_at_ms), t.id}));
    if (r.changed() == 0) return Status::NotFound("tenant '" + t.id + "' does not exist");
    return Status::Ok();
  }

  Status DeleteTenant(const std::string& id) override {
    ASSIGN_OR_RETURN(auto r, Exec("DELETE FROM tenants WHERE id=$1", {id}));
    if (r.changed() == 0) return Status::NotFound("tenant '" + id + "' does not exist");
    return Status::Ok();
  }

  Status CreateUser(const UserRecord& u) override {
    Status s = Exec("INSERT INTO users (id, email, email_lower, tenant_id, role, status, password_hash, "
                    "created_at_ms, last_login_at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                    {u.id, u.email, u.email_lower, u.tenant_id, u.role, u.status, u.password_hash,
                     std::to_string(u.created_at_ms), Opt(u.last_login_at_ms)})
                   .status();
    if (s.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("a user with this email already exists", "duplicate_email");
    }
    if (s.code() == StatusCode::kFailedPrecondition) {  // foreign key
      return Status::NotFound("tenant '" + u.tenant_id + "' does not exist");
    }
    return s;
  }

  StatusOr<UserRecord> GetUser(const std::string& id) override { return GetUserWhere("id", id); }
  StatusOr<UserRecord> GetUserByEmail(const std::string& email_lower) override {
    return GetUserWhere("email_lower", email_lower);
  }

  StatusOr<std::vector<UserRecord>> ListUsers(const std::string& tenant_id) override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kUserCols +
                                      " FROM users WHERE tenant_id=$1 ORDER BY created_at_ms, id",
                                  {tenant_id}));
    std::vector<UserRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(ReadUser(r, i));
    return out;
  }

  Status UpdateUser(const UserRecord& u) override {
    ASSIGN_OR_RETURN(auto r, Exec("UPDATE users SET role=$1, status=$2, password_hash=$3, last_login_at_ms=$4 "
                                  "WHERE id=$5",
                                  {u.role, u.status, u.password_hash, Opt(u.last_login_at_ms), u.id}));
    if (r.changed() == 0) return Status::NotFound("user '" + u.id + "' does not exist");
    return Status::Ok();
  }

  Status CreateApiKey(const ApiKeyRecord& k) override {
    return Exec("INSERT INTO api_keys (id, tenant_id, name, key_prefix, key_hash, scopes, created_by, "
                "created_at_ms, expires_at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                {k.id, k.tenant_id, k.name, k.key_prefix, k.key_hash, JoinList(k.scopes, ' '), k.created_by,
                 std::to_string(k.created_at_ms), Opt(k.expires_at_ms)})
        .status();
  }

  StatusOr<ApiKeyRecord> GetApiKeyByHash(const std::string& key_hash) override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kKeyCols + " FROM api_keys WHERE key_hash=$1",
                                  {key_hash}));
    if (r.size() == 0) return Status::NotFound("unknown API key");
    return ReadKey(r, 0);
  }

  StatusOr<std::vector<ApiKeyRecord>> ListApiKeys(const std::string& tenant_id) override {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kKeyCols +
                                      " FROM api_keys WHERE tenant_id=$1 AND revoked_at_ms IS NULL "
                                      "ORDER BY created_at_ms DESC, id",
                                  {tenant_id}));
    std::vector<ApiKeyRecord> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(ReadKey(r, i));
    return out;
  }

  Status RevokeApiKey(const std::string& tenant_id, const std::string& id, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto r, Exec("UPDATE api_keys SET revoked_at_ms=$1 WHERE id=$2 AND tenant_id=$3 AND "
                                  "revoked_at_ms IS NULL",
                                  {std::to_string(now_ms), id, tenant_id}));
    if (r.changed() == 0) return Status::NotFound("API key '" + id + "' does not exist");
    return Status::Ok();
  }

  Status TouchApiKey(const std::string& id, int64_t now_ms) override {
    return Exec("UPDATE api_keys SET last_used_at_ms=$1 WHERE id=$2", {std::to_string(now_ms), id}).status();
  }

  Status CreateRefreshToken(const RefreshTokenRecord& r) override {
    return Exec("INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at_ms, expires_at_ms, used, "
                "revoked) VALUES ($1,$2,$3,$4,$5,$6,$7)",
                {r.token_hash, r.family_id, r.user_id, std::to_string(r.issued_at_ms),
                 std::to_string(r.expires_at_ms), r.used ? "true" : "false", r.revoked ? "true" : "false"})
        .status();
  }

  StatusOr<RefreshTokenRecord> ConsumeRefreshToken(const std::string& token_hash) override {
    // One statement: the row locked, marked used, returned as it was.
    ASSIGN_OR_RETURN(auto r, Exec("UPDATE refresh_tokens t SET used=true FROM "
                                  "(SELECT token_hash, used FROM refresh_tokens WHERE token_hash=$1 FOR UPDATE) old "
                                  "WHERE t.token_hash=old.token_hash RETURNING t.token_hash, t.family_id, "
                                  "t.user_id, t.issued_at_ms, t.expires_at_ms, old.used, t.revoked",
                                  {token_hash}));
    if (r.size() == 0) return Status::NotFound("unknown refresh token");
    return RefreshTokenRecord{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2), r.Int(0, 3),
                              r.Int(0, 4),  r.Bool(0, 5), r.Bool(0, 6)};
  }

  Status RevokeTokenFamily(const std::string& family_id) override {
    return Exec("UPDATE refresh_tokens SET revoked=true WHERE family_id=$1", {family_id}).status();
  }

  StatusOr<bool> IsTokenFamilyRevoked(const std::string& family_id) override {
    ASSIGN_OR_RETURN(auto r, Exec("SELECT 1 FROM refresh_tokens WHERE family_id=$1 AND revoked LIMIT 1", {family_id}));
    return r.size() > 0;
  }

  Status RevokeUserTokens(const std::string& user_id) override {
    return Exec("UPDATE refresh_tokens SET revoked=true WHERE user_id=$1", {user_id}).status();
  }

  StatusOr<std::optional<std::string>> GetSetting(const std::string& key) override {
    ASSIGN_OR_RETURN(auto r, Exec("SELECT value FROM settings WHERE key=$1", {key}));
    if (r.size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.Text(0, 0));
  }

  Status PutSetting(const std::string& key, const std::string& value) override {
    return Exec("INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                {key, value})
        .status();
  }

  StatusOr<bool> TakeLease(const std::string& name, const std::string& holder, int64_t now_ms,
                           int64_t ttl_ms) override {
    // The value is "<until_ms>|<holder>"; taken over only when it ran out or is ours.
    ASSIGN_OR_RETURN(auto r, Exec("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
                                  "SET value = excluded.value WHERE split_part(settings.value, '|', 1)::bigint < $3 "
                                  "OR split_part(settings.value, '|', 2) = $4 RETURNING key",
                                  {"lease:" + name, std::to_string(now_ms + ttl_ms) + "|" + holder,
                                   std::to_string(now_ms), holder}));
    return r.size() > 0;
  }

  StatusOr<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    // The insert, or the row another node inserted first (locked until we read it).
    ASSIGN_OR_RETURN(auto r, Exec("WITH ins AS (INSERT INTO settings (key, value) VALUES ($1,$2) "
                                  "ON CONFLICT (key) DO NOTHING RETURNING value) "
                                  "SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE key=$1",
                                  {key, value}));
    if (r.size() == 0) return Status::Unavailable("setting " + key + " was written concurrently; try again");
    return r.Text(0, 0);
  }

 private:
  StatusOr<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {}) {
    return db_->Exec(sql, params);
  }

  StatusOr<UserRecord> GetUserWhere(const char* col, const std::string& v) {
    ASSIGN_OR_RETURN(auto r, Exec(std::string("SELECT ") + kUserCols + " FROM users WHERE " + col + "=$1", {v}));
    if (r.size() == 0) return Status::NotFound("user does not exist");
    return ReadUser(r, 0);
  }

  std::unique_ptr<PgDb> db_;
};

}  // namespace

StatusOr<std::unique_ptr<ControlStore>> OpenPostgresControlStore(const std::string& url, const std::string& schema) {
  ASSIGN_OR_RETURN(auto db, PgDb::Open({.url = url, .schema = schema, .pool_size = 8}, ControlMigrations()));
  return std::unique_ptr<ControlStore>(new PgControlStore(std::move(db)));
}

}  // namespace embedrec::store
