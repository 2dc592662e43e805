// PostgreSQL backends of a tenant's TrainingRecords and ExperimentRecords,
// in its schema (tables training_jobs, model_versions, experiments).
#pragma once

#include <memory>

#include "store/experiment_records.h"
#include "store/postgres/pg_tenant_schema.h"
#include "store/training_records.h"

namespace embedrec::store {

// `space.db` outlives the records.
std::unique_ptr<TrainingRecords> NewPgTrainingRecords(PgTenantSpace space);
std::unique_ptr<ExperimentRecords> NewPgExperimentRecords(PgTenantSpace space);

}  // namespace embedrec::store
