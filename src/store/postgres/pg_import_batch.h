// PostgreSQL backend of ImportBatch: an upload's writes in one transaction
// on a connection of its own, under the tenant's write lock.
#pragma once

#include <memory>

#include "store/postgres/pg_tenant_schema.h"

namespace embedrec::store {

StatusOr<std::unique_ptr<ImportBatch>> NewPgImportBatch(const PgTenantSpace& space);

}  // namespace embedrec::store
