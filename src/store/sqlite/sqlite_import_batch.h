// An upload's batch in a tenant's SQLite database: one IMMEDIATE
// transaction (the tenant's write lock) from Begin to Commit; destroying it
// uncommitted rolls everything back.
#pragma once

#include <memory>

#include "common/status.h"
#include "store/sqlite/sqlite_db.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

// Begins the transaction on `lease`'s connection.
StatusOr<std::unique_ptr<ImportBatch>> NewSqliteImportBatch(SqliteDb::Lease lease);

}  // namespace embedrec::store
