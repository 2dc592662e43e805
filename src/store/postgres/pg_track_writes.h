// A tenant's real-time tracking writes in PostgreSQL: what the
// TrackCommitter calls to write a group of batches. The whole group goes in
// a handful of statements whatever its size (its items, users, rows, events
// and idempotency keys each in one), in one transaction under the tenant's
// write lock, with the rules of the SQLite writer (sqlite_track_writer.cc).
#pragma once

#include "common/clock.h"
#include "store/postgres/pg_tenant_schema.h"
#include "store/track_committer.h"

namespace embedrec::store {

// `space.db` and `clock` outlive the function.
WriteTrackBatches PgTrackWrites(PgTenantSpace space, const Clock* clock);

}  // namespace embedrec::store
