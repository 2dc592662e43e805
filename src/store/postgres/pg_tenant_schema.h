// A tenant's tables in PostgreSQL: one schema per tenant ("tenant_<uuid>"),
// the same tables as its SQLite database. Every statement of a tenant's
// store names its tables through its own schema ({s}.items), so a query can
// only ever reach that tenant's rows, whatever its WHERE clause says.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/postgres/pg_db.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

const std::vector<PgMigration>& PgTenantMigrations();

// The schema of tenant `tenant_id` (a UUID): "tenant_" and its hex digits.
std::string TenantSchemaName(const std::string& tenant_id);

// The channel of tenants' changes, and its message: "<node> <tenant> <kind>"
// and, for a tracked event, " <event JSON>" (NOTIFY's limit: under 8000 bytes).
inline constexpr const char* kChangesChannel = "embedrec_tenant_changes";
std::string ChangeMessage(const std::string& node, const RemoteChange& change);
// False for a message that is not one (or names an unknown kind).
bool ParseChangeMessage(const std::string& message, std::string* node, RemoteChange* change);

// What a tenant's store works with: the shared pool and its schema.
struct PgTenantSpace {
  PgDb* db;
  std::string tenant_id;
  std::string schema;  // quoted identifier
  std::string node;    // this process's id in change messages
  bool notify_tracked = true;  // tracked events go to the other nodes by NOTIFY (not through Kafka)

  std::string Sql(const std::string& sql) const { return InSchema(sql, schema); }
  // Serialises the tenant's writers (uploads, tracking, catalog changes,
  // deploys) for the transaction: new item_idx/user_idx stay dense, and
  // events commit in the order of their seq.
  Status LockWrites(PgConn& c) const;
  // The same, to send in a pipeline; waiting at most `wait_ms` when given
  // (the transaction's lock_timeout set in the same statement: SQLSTATE 55P03).
  PgStatement LockWritesStatement(std::optional<int> wait_ms = std::nullopt) const;
  // Appends to the tenant's event log (call under LockWrites).
  Status AppendEvent(PgConn& c, const std::string& topic, const std::string& payload, int64_t now_ms) const;
  // Tells the other nodes, when the transaction commits (NOTIFY).
  Status Notify(PgConn& c, RemoteChange::Kind kind) const;
  // Inserts an interaction row; false when an identical one exists.
  StatusOr<bool> InsertInteraction(PgConn& c, const InteractionRecord& r, const std::string& interaction_id,
                                   int64_t upload_seq) const;
};

}  // namespace embedrec::store
