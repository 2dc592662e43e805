// Interaction history import: CSV rows (streamed) → validated interactions →
// an import batch.
//
// Columns (header required, any order, any spelling, common other names:
// ingest/header_columns.h): user_id, item_id,
// interaction_type, timestamp (RFC 3339, or as exports write it — no zone:
// UTC, no seconds, a date alone —, or Unix epoch seconds), and optional rating (1–5), duration_seconds (≥ 0), value or price
// (≥ 0), quantity (> 0). Other columns are ignored and reported.
//
// Two phases, so that an upload holds the tenant's write lock only while it
// writes: (1) the whole file is read, validated against id snapshots and
// sorted in key order, the ids of new users collected (both spilled to
// temporary files past one chunk, so memory stays bounded whatever the file's
// size and its number of new users); (2) `begin` opens the batch and the rows
// are inserted in key order (appends to the store's B-tree), each new user
// added just before its rows.
//
// Rules: the item must be in the tenant's catalog (not for
// recommendations_shown, whose item is optional); users are created as they
// appear; types are the built-in ones plus the tenant's custom types; a row
// identical to a stored one or an earlier row (same user, item, type and
// timestamp) is dropped and counted in duplicates_removed. Row numbers as in
// item_import.h.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "ingest/item_import.h"
#include "ingest/new_users.h"
#include "interactions/interaction_rules.h"

namespace embedrec::ingest {

struct InteractionImportOptions {
  std::set<std::string> custom_types;  // allowed beyond the built-in ones
  std::string spill_dir;               // temporary sorted runs of large files
  size_t sort_chunk_rows = 0;          // 0: InteractionSorter's default
  size_t new_user_chunk = 0;           // 0: NewUsers' default
  NewUsers::Hash user_hash;            // null: NewUsers' keyed hash (tests pass weak ones)
  int64_t now_ms = 0;
  std::string currency;  // the shop's (settings.currency, an ISO code; empty: none)
  int64_t max_future_ms = interactions::kMaxFutureMs;  // later timestamps are rejected
};

struct InteractionStats {
  int64_t unique_users = 0;
  int64_t unique_items = 0;
  std::map<std::string, int64_t> types;  // accepted rows per type
  int64_t min_ts_ms = 0, max_ts_ms = 0;  // of accepted rows; 0 when none
  double read_seconds = 0;   // phase 1: reading, validating, sorting (no lock held)
  double write_seconds = 0;  // phase 2: writing under the tenant's write lock
  size_t runs_spilled = 0;   // sorted runs written to temporary files (rows and new users)
};

// The tenant's ids as read before the upload (TenantStore::LoadItemIndex and
// LoadUserIndex); no lock is held while they are used.
struct IdSnapshot {
  IdMap items;  // live items
  IdMap users;
};

// Opens the upload's batch (and so takes the tenant's write lock); called at
// most once per import, after the file has been read.
using BeginBatch = std::function<StatusOr<store::ImportBatch*>()>;

// kUnprocessable when the file as a whole cannot be imported (empty, missing
// columns); errors of `csv`, `begin` or the batch are returned as they are.
StatusOr<ImportResult> ImportInteractionsCsv(ByteSource* csv, const IdSnapshot& ids,
                                             const BeginBatch& begin,
                                             const InteractionImportOptions& options,
                                             InteractionStats* stats);

}  // namespace embedrec::ingest
