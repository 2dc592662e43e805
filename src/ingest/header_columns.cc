#include "ingest/header_columns.h"

#include <algorithm>

#include "common/strings.h"

namespace embedrec::ingest {

std::vector<std::string> HeaderColumns(const std::vector<std::string_view>& header,
                                       const std::vector<ColumnAlias>& aliases) {
  std::vector<std::string> columns;
  columns.reserve(header.size());
  for (std::string_view f : header) columns.push_back(SnakeCase(Trim(f)));
  for (const ColumnAlias& a : aliases) {
    if (std::find(columns.begin(), columns.end(), a.name) != columns.end()) continue;
    std::vector<size_t> found;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (std::find(a.others.begin(), a.others.end(), columns[i]) != a.others.end()) found.push_back(i);
    }
    if (found.size() == 1) columns[found[0]] = std::string(a.name);  // two would be a guess
  }
  return columns;
}

Status RequireColumn(const std::vector<std::string>& columns, std::string_view name) {
  if (std::find(columns.begin(), columns.end(), name) != columns.end()) return Status::Ok();
  std::vector<std::string_view> present(columns.begin(), columns.end());
  std::string list;
  for (size_t i = 0; i < present.size() && i < 30; ++i) {
    list += (list.empty() ? "" : ", ") + ValidUtf8(present[i].substr(0, 64));
  }
  if (present.size() > 30) list += ", ...";
  std::string message = "the header has no " + std::string(name) + " column";
  Status::Details details{{"column", std::string(name)}, {"header", list}};
  if (std::string_view meant = ClosestName(name, present); !meant.empty()) {
    message += "; is '" + std::string(meant) + "' it? name it " + std::string(name);
    details.emplace_back("did_you_mean", std::string(meant));
  }
  return Status::Unprocessable(message + " (the header: " + list + ")", std::move(details));
}

}  // namespace embedrec::ingest
