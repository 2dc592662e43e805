// Interaction history import: CSV rows (streamed) → validated interactions →
// an import batch.
//
// Columns (header required, any order, case-insensitive): user_id, item_id,
// interaction_type (or type), timestamp (RFC 3339 with a zone, or Unix epoch
// seconds), and optional rating (1–5), duration_seconds (≥ 0), value or price
// (≥ 0), quantity (> 0). Other columns are ignored and reported.
//
// Rules: the item must be in the tenant's catalog (not for
// recommendations_shown, whose item is optional); users are created as they
// appear; types are the built-in ones plus the tenant's custom types; a row
// identical to a stored one or an earlier row (same user, item, type and
// timestamp) is dropped and counted in duplicates_removed. Row numbers as in
// item_import.h.
#pragma once

#include <map>
#include <set>
#include <string>

#include "ingest/item_import.h"

namespace embedrec::ingest {

// view, click, add_to_cart, remove_from_cart, purchase, rating, like, share,
// recommendations_shown.
const std::set<std::string>& BuiltInInteractionTypes();

struct InteractionImportOptions {
  std::set<std::string> custom_types;  // allowed beyond the built-in ones
  std::string upload_id;
  int64_t now_ms = 0;
  int64_t max_future_ms = 24 * 3600 * 1000;  // later timestamps are rejected
};

struct InteractionStats {
  int64_t unique_users = 0;
  int64_t unique_items = 0;
  std::map<std::string, int64_t> types;  // accepted rows per type
  int64_t min_ts_ms = 0, max_ts_ms = 0;  // of accepted rows; 0 when none
};

StatusOr<ImportResult> ImportInteractionsCsv(ByteSource* csv, store::ImportBatch* batch,
                                             const InteractionImportOptions& options,
                                             InteractionStats* stats);

// Parses a timestamp: RFC 3339 with a zone, or Unix epoch seconds (optionally
// fractional). Milliseconds since the epoch, or nullopt.
std::optional<int64_t> ParseTimestampMillis(std::string_view text);

}  // namespace embedrec::ingest
