// SQLite backend of TrainingRecords, over a tenant's database (tables
// training_jobs and model_versions, created by the tenant migrations).
#pragma once

#include <memory>

#include "store/sqlite/sqlite_db.h"
#include "store/training_records.h"

namespace embedrec::store {

// `db` must outlive the records.
std::unique_ptr<TrainingRecords> NewSqliteTrainingRecords(SqliteDb* db);

}  // namespace embedrec::store
