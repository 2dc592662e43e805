// The schema of a tenant's SQLite database (its migrations) and the SQL the
// import batch and the tracking writer share.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/sqlite/sqlite_db.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

const std::vector<Migration>& TenantMigrations();

extern const char* const kInsertInteractionSql;
extern const char* const kItemIndexSql;
extern const char* const kUserIndexSql;

// INSERT OR IGNORE of one interaction with `st` prepared from
// kInsertInteractionSql (uploads and real-time tracking alike); false when an
// identical one (user, item, type, time) is stored already. `upload_seq` 0:
// not from an upload.
StatusOr<bool> InsertInteractionRow(SqliteConn& c, SqliteStmt& st, const InteractionRecord& r,
                                    const std::string& interaction_id, int64_t upload_seq = 0);
// Appends one event to the tenant's log (TenantStore::ReadEvents), in the
// transaction `c` is in.
Status AppendEventRow(SqliteConn& c, const std::string& topic, const std::string& payload, int64_t now_ms);

}  // namespace embedrec::store
