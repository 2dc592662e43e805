// Catalog import: CSV rows (streamed) → validated items → an import batch.
//
// Columns (header required, any order, any spelling, common other names:
// ingest/header_columns.h): item_id (required, ≤ 256 bytes), name,
// category, price (decimal ≥ 0; a decimal comma in a file not separated by
// commas), description, brand, tags ('|'-separated, or ',' or ';' in a field
// without a bar), image_url, available or in_stock
// (true/false/1/0/yes/no). Any other column is kept as an item property.
//
// Row numbers count CSV records with the header as row 1, so they are the
// spreadsheet row numbers unless a quoted field spans lines (then the record
// number still counts each record once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/byte_source.h"
#include "common/status.h"
#include "common/csv.h"
#include "store/tenant_stores.h"

namespace embedrec::ingest {

inline constexpr size_t kMaxListedErrors = 100;

struct RowError {
  uint64_t row = 0;
  std::string error;
  std::string item_id;  // when known
  std::string user_id;  // when known
};

struct ImportResult {
  int64_t data_rows = 0;
  int64_t rows_accepted = 0;
  int64_t rows_rejected = 0;
  int64_t duplicates_removed = 0;
  std::vector<RowError> errors;  // the first kMaxListedErrors
  int64_t errors_not_listed = 0;
  std::vector<std::string> extra_columns;  // kept as properties (items) or ignored
  char delimiter = ',';                    // what separated the file's fields
  int64_t timestamps_read_as_utc = 0;      // accepted rows whose time had no zone
  std::string currency;                    // the sign or code written with amounts, when any
  void Reject(RowError e);
  // False, with the row's error in *error, when an amount written in
  // `written` cannot be in the shop's currency `shop` (its ISO code, empty
  // when the shop names none), or joins a file whose earlier amounts were in
  // another (amounts are not converted); the first sign or code seen becomes
  // the file's.
  bool TakeCurrency(const std::string& written, const std::string& shop, std::string* error);
  // Counts a data record; false (and the row rejected) when it is malformed
  // CSV or its field count differs from the header's `columns`.
  bool AdmitRecord(const CsvRecord& r, size_t columns);
};

// Streams CSV from `csv` into `batch`. kUnprocessable when the file as a
// whole cannot be imported (empty, no item_id column, duplicate column names);
// errors of `csv` or `batch` are returned as they are.
// `currency`: the shop's (settings.currency, an ISO code; empty: none).
StatusOr<ImportResult> ImportItemsCsv(ByteSource* csv, store::ImportBatch* batch, int64_t now_ms,
                                      const std::string& currency = "");

}  // namespace embedrec::ingest
