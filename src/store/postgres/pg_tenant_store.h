// One tenant's schema as a TenantStore (PostgreSQL): opened by the tenant
// set (pg_tenant_stores.cc), which creates and drops the schemas.
#pragma once

#include <memory>

#include "common/clock.h"
#include "store/postgres/pg_tenant_schema.h"

namespace embedrec::store {

// `create`: stamps the schema with the tenant's id; otherwise the stamp must
// be it (kInternal). `space.db`, `clock` and `run_callback` outlive the store.
StatusOr<std::shared_ptr<TenantStore>> OpenPgTenantStore(PgTenantSpace space, bool create, const Clock* clock,
                                                         const CallbackRunner* run_callback);

}  // namespace embedrec::store
