// A tenant's real-time tracking writes in its SQLite database: what the
// TrackCommitter (store/track_committer.h) calls to write a group of
// batches in one transaction.
#pragma once

#include "common/clock.h"
#include "store/sqlite/sqlite_db.h"
#include "store/track_committer.h"

namespace embedrec::store {

// `db` and `clock` outlive the function.
WriteTrackBatches SqliteTrackWrites(SqliteDb* db, const Clock* clock);

}  // namespace embedrec::store
