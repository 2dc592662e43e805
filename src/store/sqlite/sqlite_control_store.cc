// SQLite backend of ControlStore.
#include <string>

#include "common/strings.h"
#include "store/control_store.h"
#include "store/sqlite/sqlite_db.h"

namespace embedrec::store {
namespace {

const std::vector<Migration>& ControlMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE tenants (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  settings_json TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  email_lower TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  status TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  last_login_at_ms INTEGER
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
  created_at_ms INTEGER NOT NULL,
  last_used_at_ms INTEGER,
  revoked_at_ms INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
      {2, "ALTER TABLE api_keys ADD COLUMN expires_at_ms INTEGER;"},
  };
  return kMigrations;
}

constexpr const char* kTenantCols =
    "id, name, slug, status, settings_json, created_at_ms, updated_at_ms, seq";
TenantRecord ReadTenant(const SqliteStmt& s) {
  return TenantRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5), s.Int(6)};
}

constexpr const char* kUserCols =
    "id, email, email_lower, tenant_id, role, status, password_hash, created_at_ms, "
    "last_login_at_ms";
UserRecord ReadUser(const SqliteStmt& s) {
  return UserRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4),
                    s.Text(5), s.Text(6), s.Int(7),  s.OptInt(8)};
}

constexpr const char* kKeyCols =
    "id, tenant_id, name, key_prefix, key_hash, scopes, created_by, created_at_ms, "
    "last_used_at_ms, revoked_at_ms, expires_at_ms";
ApiKeyRecord ReadKey(const SqliteStmt& s) {
  return ApiKeyRecord{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4),
                      SplitList(s.Text(5), ' '), s.Text(6), s.Int(7), s.OptInt(8), s.OptInt(9), s.OptInt(10)};
}

class SqliteControlStore final : public ControlStore {
 public:
  explicit SqliteControlStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status Ping() override {
    return db_->Read([](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT 1"));
      return st->Run();
    });
  }

  Status CreateTenant(const TenantRecord& t) override {
    Status s = db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st,
                       c.Prepare("INSERT INTO tenants (id, name, slug, status, settings_json, "
                                 "created_at_ms, updated_at_ms) VALUES (?,?,?,?,?,?,?)"));
      st->Bind(1, t.id).Bind(2, t.name).Bind(3, t.slug).Bind(4, t.status).Bind(5, t.settings_json)
          .Bind(6, t.created_at_ms).Bind(7, t.updated_at_ms);
      return st->Run();
    });
    if (s.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("a tenant with slug '" + t.slug + "' already exists",
                                   "duplicate_slug");
    }
    return s;
  }

  StatusOr<TenantRecord> GetTenant(const std::string& id) override {
    std::optional<TenantRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st,
                       c.Prepare(std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id=?"));
      st->Bind(1, id);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = ReadTenant(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("tenant '" + id + "' does not exist");
    return std::move(*out);
  }

  StatusOr<TenantPage> ListTenants(const std::string& cursor, int limit) override {
    ASSIGN_OR_RETURN(const int64_t after, ParseTenantCursor(cursor));
    TenantPage page;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kTenantCols +
                                          " FROM tenants WHERE seq > ? ORDER BY seq LIMIT ?"));
      st->Bind(1, after).Bind(2, limit + 1);
      int64_t last_seq = 0;
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) break;
        if (static_cast<int>(page.tenants.size()) == limit) {
          page.next_cursor = std::to_string(last_seq);
          break;
        }
        page.tenants.push_back(ReadTenant(*st));
        last_seq = st->Int(7);
      }
      ASSIGN_OR_RETURN(auto cnt, c.Prepare("SELECT COUNT(*) FROM tenants"));
      ASSIGN_OR_RETURN(bool row, cnt->Step());
      if (row) page.total = cnt->Int(0);
      return Status::Ok();
    }));
    return page;
  }

  Status UpdateTenant(const TenantRecord& t) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE tenants SET name=?, status=?, settings_json=?, "
                                          "updated_at_ms=? WHERE id=?"));
      st->Bind(1, t.name).Bind(2, t.status).Bind(3, t.settings_json).Bind(4, t.updated_at_ms)
          .Bind(5, t.id);
      RETURN_IF_ERROR(st->Run());
      if (c.Changes() == 0) return Status::NotFound("tenant '" + t.id + "' does not exist");
      return Status::Ok();
    });
  }

  Status DeleteTenant(const std::string& id) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("DELETE FROM tenants WHERE id=?"));
      st->Bind(1, id);
      RETURN_IF_ERROR(st->Run());
      if (c.Changes() == 0) return Status::NotFound("tenant '" + id + "' does not exist");
      return Status::Ok();
    });
  }

  Status CreateUser(const UserRecord& u) override {
    Status s = db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO users (id, email, email_lower, tenant_id, "
                                          "role, status, password_hash, created_at_ms, "
                                          "last_login_at_ms) VALUES (?,?,?,?,?,?,?,?,?)"));
      st->Bind(1, u.id).Bind(2, u.email).Bind(3, u.email_lower).Bind(4, u.tenant_id)
          .Bind(5, u.role).Bind(6, u.status).Bind(7, u.password_hash).Bind(8, u.created_at_ms)
          .Bind(9, u.last_login_at_ms);
      return st->Run();
    });
    if (s.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("a user with this email already exists", "duplicate_email");
    }
    if (s.code() == StatusCode::kFailedPrecondition) {  // foreign key
      return Status::NotFound("tenant '" + u.tenant_id + "' does not exist");
    }
    return s;
  }

  StatusOr<UserRecord> GetUser(const std::string& id) override {
    return GetUserWhere("id", id);
  }
  StatusOr<UserRecord> GetUserByEmail(const std::string& email_lower) override {
    return GetUserWhere("email_lower", email_lower);
  }

  StatusOr<std::vector<UserRecord>> ListUsers(const std::string& tenant_id) override {
    std::vector<UserRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kUserCols +
                                          " FROM users WHERE tenant_id=? ORDER BY created_at_ms, id"));
      st->Bind(1, tenant_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(ReadUser(*st));
      }
    }));
    return out;
  }

  Status UpdateUser(const UserRecord& u) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE users SET role=?, status=?, password_hash=?, "
                                          "last_login_at_ms=? WHERE id=?"));
      st->Bind(1, u.role).Bind(2, u.status).Bind(3, u.password_hash).Bind(4, u.last_login_at_ms)
          .Bind(5, u.id);
      RETURN_IF_ERROR(st->Run());
      if (c.Changes() == 0) return Status::NotFound("user '" + u.id + "' does not exist");
      return Status::Ok();
    });
  }

  Status CreateApiKey(const ApiKeyRecord& k) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO api_keys (id, tenant_id, name, key_prefix, "
                                          "key_hash, scopes, created_by, created_at_ms, expires_at_ms) "
                                          "VALUES (?,?,?,?,?,?,?,?,?)"));
      st->Bind(1, k.id).Bind(2, k.tenant_id).Bind(3, k.name).Bind(4, k.key_prefix)
          .Bind(5, k.key_hash).Bind(6, JoinList(k.scopes, ' ')).Bind(7, k.created_by)
          .Bind(8, k.created_at_ms).Bind(9, k.expires_at_ms);
      return st->Run();
    });
  }

  StatusOr<ApiKeyRecord> GetApiKeyByHash(const std::string& key_hash) override {
    std::optional<ApiKeyRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kKeyCols +
                                          " FROM api_keys WHERE key_hash=?"));
      st->Bind(1, key_hash);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = ReadKey(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("unknown API key");
    return std::move(*out);
  }

  StatusOr<std::vector<ApiKeyRecord>> ListApiKeys(const std::string& tenant_id) override {
    std::vector<ApiKeyRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st,
                       c.Prepare(std::string("SELECT ") + kKeyCols +
                                 " FROM api_keys WHERE tenant_id=? AND revoked_at_ms IS NULL "
                                 "ORDER BY created_at_ms DESC, id"));
      st->Bind(1, tenant_id);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st->Step());
        if (!row) return Status::Ok();
        out.push_back(ReadKey(*st));
      }
    }));
    return out;
  }

  Status RevokeApiKey(const std::string& tenant_id, const std::string& id,
                      int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE api_keys SET revoked_at_ms=? WHERE id=? AND "
                                          "tenant_id=? AND revoked_at_ms IS NULL"));
      st->Bind(1, now_ms).Bind(2, id).Bind(3, tenant_id);
      RETURN_IF_ERROR(st->Run());
      if (c.Changes() == 0) return Status::NotFound("API key '" + id + "' does not exist");
      return Status::Ok();
    });
  }

  Status TouchApiKey(const std::string& id, int64_t now_ms) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE api_keys SET last_used_at_ms=? WHERE id=?"));
      st->Bind(1, now_ms).Bind(2, id);
      return st->Run();
    });
  }

  Status CreateRefreshToken(const RefreshTokenRecord& r) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO refresh_tokens (token_hash, family_id, "
                                          "user_id, issued_at_ms, expires_at_ms, used, revoked) "
                                          "VALUES (?,?,?,?,?,?,?)"));
      st->Bind(1, r.token_hash).Bind(2, r.family_id).Bind(3, r.user_id).Bind(4, r.issued_at_ms)
          .Bind(5, r.expires_at_ms).Bind(6, int64_t{r.used}).Bind(7, int64_t{r.revoked});
      return st->Run();
    });
  }

  StatusOr<RefreshTokenRecord> ConsumeRefreshToken(const std::string& token_hash) override {
    std::optional<RefreshTokenRecord> out;
    RETURN_IF_ERROR(db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT token_hash, family_id, user_id, issued_at_ms, "
                                          "expires_at_ms, used, revoked FROM refresh_tokens "
                                          "WHERE token_hash=?"));
      st->Bind(1, token_hash);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return Status::Ok();
      out = RefreshTokenRecord{st->Text(0), st->Text(1), st->Text(2), st->Int(3),
                               st->Int(4),  st->Int(5) != 0, st->Int(6) != 0};
      st.reset();
      ASSIGN_OR_RETURN(auto up, c.Prepare("UPDATE refresh_tokens SET used=1 WHERE token_hash=?"));
      up->Bind(1, token_hash);
      return up->Run();
    }));
    if (!out) return Status::NotFound("unknown refresh token");
    return std::move(*out);
  }

  Status RevokeTokenFamily(const std::string& family_id) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE refresh_tokens SET revoked=1 WHERE family_id=?"));
      st->Bind(1, family_id);
      return st->Run();
    });
  }

  StatusOr<bool> IsTokenFamilyRevoked(const std::string& family_id) override {
    bool revoked = false;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) -> Status {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT 1 FROM refresh_tokens WHERE family_id=? AND revoked=1 LIMIT 1"));
      st->Bind(1, family_id);
      ASSIGN_OR_RETURN(revoked, st->Step());
      return Status::Ok();
    }));
    return revoked;
  }

  Status RevokeUserTokens(const std::string& user_id) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("UPDATE refresh_tokens SET revoked=1 WHERE user_id=?"));
      st->Bind(1, user_id);
      return st->Run();
    });
  }

  StatusOr<std::optional<std::string>> GetSetting(const std::string& key) override {
    std::optional<std::string> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT value FROM settings WHERE key=?"));
      st->Bind(1, key);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = st->Text(0);
      return Status::Ok();
    }));
    return out;
  }

  Status PutSetting(const std::string& key, const std::string& value) override {
    return db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare("INSERT INTO settings (key, value) VALUES (?,?) "
                                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value"));
      st->Bind(1, key).Bind(2, value);
      return st->Run();
    });
  }

  StatusOr<bool> TakeLease(const std::string& name, const std::string& holder, int64_t now_ms,
                           int64_t ttl_ms) override {
    // The value is "<until_ms>|<holder>"; taken over only when it ran out or is ours.
    const std::string key = "lease:" + name, value = std::to_string(now_ms + ttl_ms) + "|" + holder;
    bool taken = false;
    RETURN_IF_ERROR(db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto up, c.Prepare(
          "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
          "WHERE CAST(substr(settings.value, 1, instr(settings.value, '|') - 1) AS INTEGER) < ?3 "
          "OR substr(settings.value, instr(settings.value, '|') + 1) = ?4"));
      up->Bind(1, key).Bind(2, value).Bind(3, now_ms).Bind(4, holder);
      RETURN_IF_ERROR(up->Run());
      taken = sqlite3_changes(c.raw()) > 0;
      return Status::Ok();
    }));
    return taken;
  }

  StatusOr<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override {
    std::string out;
    RETURN_IF_ERROR(db_->Write([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto ins, c.Prepare("INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT(key) DO NOTHING"));
      ins->Bind(1, key).Bind(2, value);
      RETURN_IF_ERROR(ins->Run());
      ins.reset();
      ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT value FROM settings WHERE key=?"));
      st->Bind(1, key);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) return Status::Internal("setting " + key + " vanished");
      out = st->Text(0);
      return Status::Ok();
    }));
    return out;
  }

 private:
  StatusOr<UserRecord> GetUserWhere(const char* col, const std::string& v) {
    std::optional<UserRecord> out;
    RETURN_IF_ERROR(db_->Read([&](SqliteConn& c) {
      ASSIGN_OR_RETURN(auto st, c.Prepare(std::string("SELECT ") + kUserCols +
                                          " FROM users WHERE " + col + "=?"));
      st->Bind(1, v);
      ASSIGN_OR_RETURN(bool row, st->Step());
      if (row) out = ReadUser(*st);
      return Status::Ok();
    }));
    if (!out) return Status::NotFound("user does not exist");
    return std::move(*out);
  }

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

StatusOr<std::unique_ptr<ControlStore>> OpenSqliteControlStore(const std::string& path) {
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open({.path = path, .pool_size = 4}, ControlMigrations()));
  return std::unique_ptr<ControlStore>(new SqliteControlStore(std::move(db)));
}

}  // namespace embedrec::store
