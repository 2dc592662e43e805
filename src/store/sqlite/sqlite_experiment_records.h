// SQLite backend of ExperimentRecords, over a tenant's database (table
// experiments, created by the tenant migrations).
#pragma once

#include <memory>

#include "store/experiment_records.h"
#include "store/sqlite/sqlite_db.h"

namespace embedrec::store {

// `db` must outlive the records.
std::unique_ptr<ExperimentRecords> NewSqliteExperimentRecords(SqliteDb* db);

}  // namespace embedrec::store
