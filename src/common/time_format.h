// RFC 3339 formatting and parsing of Unix times.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace embedrec {

// "2024-01-15T10:00:00Z" (seconds precision, UTC).
std::string FormatRfc3339(int64_t unix_seconds);
// "2024-01-16T19:23:45.123Z" (millisecond precision, UTC).
std::string FormatRfc3339Millis(int64_t unix_millis);
// Parses "YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]" into Unix milliseconds; a zone is required.
std::optional<int64_t> ParseRfc3339Millis(std::string_view text);
// The same, and what spreadsheets and databases export: no zone (read as
// UTC), no seconds ("2024-01-10 14:23"), a date alone (its midnight UTC),
// an offset without its colon ("+0100"). `zoneless` (when given) tells
// whether the text had no zone.
std::optional<int64_t> ParseDateTimeMillis(std::string_view text, bool* zoneless = nullptr);

}  // namespace embedrec
