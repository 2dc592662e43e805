// A tenant's real-time tracking writes in its SQLite database: what the
// TrackCommitter (store/track_committer.h) calls to write a group of
// batches in one transaction, or (journaled) into a transaction it keeps
// open across rounds.
#pragma once

#include "common/clock.h"
#include "store/sqlite/sqlite_db.h"
#include "store/track_committer.h"

namespace embedrec::store {

// `db` and `clock` outlive the function.
WriteTrackBatches SqliteTrackWrites(SqliteDb* db, const Clock* clock);
// The journaled mode's transaction: rounds in savepoints, the last applied
// journal round in `meta`. Its connection comes from the pool without the
// database's before-use hook (the hook waits for this writer).
std::unique_ptr<TrackTransaction> NewSqliteTrackTransaction(SqliteDb* db, const Clock* clock);

}  // namespace embedrec::store
