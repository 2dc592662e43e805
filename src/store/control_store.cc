#include "store/control_store.h"

#include <stdexcept>

namespace embedrec::store {

StatusOr<int64_t> ParseTenantCursor(const std::string& cursor) {
  if (cursor.empty()) return int64_t{0};
  try {
    size_t used = 0;
    const int64_t after = std::stoll(cursor, &used);
    if (used == cursor.size() && after >= 0) return after;
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument("cursor is not one this server returned", {{"field", "cursor"}});
}

}  // namespace embedrec::store
