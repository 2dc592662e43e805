// How the importers read a CSV header's column names: each as snake_case
// ("User ID", "userId" → "user_id"), and a column under another common name
// taken for a column the importer needs but the header lacks ("product_id"
// or "sku" for item_id), when exactly one such column is there. A needed
// column still missing is a 422 naming the header's columns and, when one
// is close, the one likely meant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace embedrec::ingest {

struct ColumnAlias {
  std::string_view name;                   // as the importer knows it
  std::vector<std::string_view> others;    // common other names, snake_case
};

// `header`: the header's fields as written. The name each column is read
// by: its snake_case, or the alias's name it stands for.
std::vector<std::string> HeaderColumns(const std::vector<std::string_view>& header,
                                       const std::vector<ColumnAlias>& aliases);

// Ok when `columns` (HeaderColumns' answer) holds `name`; else the 422.
Status RequireColumn(const std::vector<std::string>& columns, std::string_view name);

}  // namespace embedrec::ingest
