// The control plane's storage: tenants, users, API keys, refresh tokens and
// platform settings. One database for the whole platform (tenant data lives
// in per-tenant stores, see tenant_stores.h).
//
// Backends: SqliteControlStore (embedded default) and PgControlStore
// (PostgreSQL, shared by every node); callers never see which one runs.
//
// Thread safety: implementations are safe for concurrent use. Every method
// blocks on I/O: call from worker threads, never from network threads.
//
// Errors common to every method: kUnavailable (store busy or unreachable,
// retry), kInternal (I/O or corruption). Others are listed per method.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::store {

struct TenantRecord {
  std::string id;             // UUID v4
  std::string name;
  std::string slug;           // unique
  std::string status;         // "active" | "suspended" | "deleting" (tenants/tenant_service.h)
  std::string settings_json;  // JSON object, validated by tenants::NormalizeSettings
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct TenantPage {
  std::vector<TenantRecord> tenants;
  std::optional<std::string> next_cursor;  // absent on the last page
  int64_t total = 0;
};

struct UserRecord {
  std::string id;
  std::string email;          // as given
  std::string email_lower;    // unique key
  std::string tenant_id;
  std::string role;           // "admin" | "member" | "viewer"
  std::string status;         // "active" | "inactive"
  std::string password_hash;  // argon2id encoded string
  int64_t created_at_ms = 0;
  std::optional<int64_t> last_login_at_ms;
};

struct ApiKeyRecord {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string key_prefix;            // first 11 characters of the key, for display
  std::string key_hash;              // SHA-256 of the whole key, hex
  std::vector<std::string> scopes;
  std::string created_by;            // user id, or "admin"
  int64_t created_at_ms = 0;
  std::optional<int64_t> last_used_at_ms;
  std::optional<int64_t> revoked_at_ms;
  std::optional<int64_t> expires_at_ms;  // refused from then on; none: never
};

struct RefreshTokenRecord {
  std::string token_hash;  // SHA-256 of the opaque token, hex
  std::string family_id;   // all rotations of one login share it
  std::string user_id;
  int64_t issued_at_ms = 0;
  int64_t expires_at_ms = 0;
  bool used = false;       // rotated already
  bool revoked = false;    // family revoked (reuse detected, logout, user deactivated)
};

class ControlStore {
 public:
  virtual ~ControlStore() = default;

  // Cheap liveness probe of the store.
  virtual Status Ping() = 0;

  // --- Tenants ---
  // kAlreadyExists (reason "duplicate_slug") when the slug is taken.
  virtual Status CreateTenant(const TenantRecord& t) = 0;
  // kNotFound when absent.
  virtual StatusOr<TenantRecord> GetTenant(const std::string& id) = 0;
  // Oldest first. `cursor` is a previous page's next_cursor (empty: first page).
  // kInvalidArgument for a malformed cursor.
  virtual StatusOr<TenantPage> ListTenants(const std::string& cursor, int limit) = 0;
  // Replaces name, status, settings_json and updated_at of tenant t.id; kNotFound when absent.
  virtual Status UpdateTenant(const TenantRecord& t) = 0;
  // Deletes the tenant with its users, keys and tokens; kNotFound when absent.
  virtual Status DeleteTenant(const std::string& id) = 0;

  // --- Users ---
  // kAlreadyExists (reason "duplicate_email") when email_lower is taken;
  // kNotFound when the tenant does not exist.
  virtual Status CreateUser(const UserRecord& u) = 0;
  virtual StatusOr<UserRecord> GetUser(const std::string& id) = 0;
  virtual StatusOr<UserRecord> GetUserByEmail(const std::string& email_lower) = 0;
  virtual StatusOr<std::vector<UserRecord>> ListUsers(const std::string& tenant_id) = 0;
  // Replaces role, status, password_hash and last_login_at of user u.id.
  virtual Status UpdateUser(const UserRecord& u) = 0;

  // --- API keys ---
  virtual Status CreateApiKey(const ApiKeyRecord& k) = 0;
  // Revoked keys are returned too (callers check revoked_at_ms).
  virtual StatusOr<ApiKeyRecord> GetApiKeyByHash(const std::string& key_hash) = 0;
  // Non-revoked keys of the tenant, newest first.
  virtual StatusOr<std::vector<ApiKeyRecord>> ListApiKeys(const std::string& tenant_id) = 0;
  // kNotFound when no live key `id` belongs to `tenant_id`.
  virtual Status RevokeApiKey(const std::string& tenant_id, const std::string& id,
                              int64_t now_ms) = 0;
  virtual Status TouchApiKey(const std::string& id, int64_t now_ms) = 0;

  // --- Refresh tokens ---
  virtual Status CreateRefreshToken(const RefreshTokenRecord& r) = 0;
  // Atomically marks the token used and returns its record as it was before.
  // kNotFound when unknown. The caller decides what a used/revoked token means.
  virtual StatusOr<RefreshTokenRecord> ConsumeRefreshToken(const std::string& token_hash) = 0;
  virtual Status RevokeTokenFamily(const std::string& family_id) = 0;
  // True when the family's tokens were revoked (a logout, a detected reuse,
  // the user's tokens revoked): its access tokens are refused too.
  virtual StatusOr<bool> IsTokenFamilyRevoked(const std::string& family_id) = 0;
  virtual Status RevokeUserTokens(const std::string& user_id) = 0;

  // --- Platform settings (small key/value pairs, e.g. the admin token's hash) ---
  virtual StatusOr<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
  // Stores `value` unless `key` has one; returns the value in effect (for
  // what several nodes may generate at once: the first one's wins).
  virtual StatusOr<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) = 0;

  // --- Leases: one node at a time does a periodic task (retention) ---
  // True when `holder` has the lease `name` until now_ms + ttl_ms: it was
  // free, had run out, or was `holder`'s already (renewed). Kept among the
  // settings ("lease:<name>"). Nodes' clocks are assumed to agree to well
  // within a ttl.
  virtual StatusOr<bool> TakeLease(const std::string& name, const std::string& holder, int64_t now_ms,
                                   int64_t ttl_ms) = 0;
};

// The position a ListTenants cursor names (0 for ""), as every backend
// writes it; kInvalidArgument (field "cursor") for one it did not write.
StatusOr<int64_t> ParseTenantCursor(const std::string& cursor);

// Opens the embedded SQLite control store at `path`, migrating it.
StatusOr<std::unique_ptr<ControlStore>> OpenSqliteControlStore(const std::string& path);

// Opens the PostgreSQL control store at `url` ("postgresql://…"), its tables
// in `schema` (created and migrated when needed, once across nodes).
// kUnavailable when the server cannot be reached.
StatusOr<std::unique_ptr<ControlStore>> OpenPostgresControlStore(const std::string& url,
                                                                 const std::string& schema = "control");

}  // namespace embedrec::store
