// One tenant's database as a TenantStore (SQLite): opened by the tenant set
// (sqlite_tenant_stores.cc), which manages the directories.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "store/sqlite/sqlite_db.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

// The store over `db`. `create`: stamps the database with `tenant_id`;
// otherwise the stamp must be `tenant_id` (a misplaced file never serves
// another tenant: kInternal). `clock` and `run_callback` outlive the store.
// Tracked events are journaled beside the database (`<db>-track`) and
// committed `track_commit_ms` after the first; the journal's rounds past the
// last commit are applied before this returns.
StatusOr<std::shared_ptr<TenantStore>> OpenSqliteTenantStore(const std::string& tenant_id,
                                                             std::unique_ptr<SqliteDb> db, bool create,
                                                             const Clock* clock,
                                                             const CallbackRunner* run_callback,
                                                             int track_commit_ms = kDefaultTrackCommitMs);

}  // namespace embedrec::store
