// What one interaction may be, the same for every way one arrives (a row of
// an uploaded file, a tracked event): its types, its timestamp, and the
// numbers it may carry. ingest/ (uploads) and api/interactions.cc
// (tracking) both check through these; training and serving read the
// stored result, weighed by interaction_types.h.
//
// Thread safety: pure functions and constants.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace embedrec::interactions {

// view, click, add_to_cart, remove_from_cart, purchase, rating, like, share,
// recommendations_shown (a tenant may add custom types in its settings).
const std::set<std::string>& BuiltInTypes();
// Built in, or one of the tenant's custom types (types are lowercase).
bool KnownType(std::string_view type, const std::set<std::string>& custom_types);
// What a type name not known as written (lowercased) may stand for: its
// snake_case spelling ("Add To Cart", "addToCart" → "add_to_cart"), or the
// built-in type of a standard event name of analytics tools (GA4's
// view_item, select_item, add_to_wishlist; Segment's "Product Viewed",
// "Product Clicked", "Product Added", "Product Removed", "Order Completed",
// "Product Added to Wishlist", "Product Shared"). Callers check the answer
// with KnownType as they did the name.
std::string TypeSpelling(std::string_view type);
// The message for a type that is not known, naming the one likely meant.
std::string UnknownTypeMessage(std::string_view type, const std::set<std::string>& custom_types);

// A timestamp as text: RFC 3339, or as spreadsheets and databases export
// one (no zone: UTC; no seconds; a date alone; common/time_format.h's
// ParseDateTimeMillis), or Unix epoch seconds (optionally fractional; more
// than 11 integer digits are milliseconds, not seconds, and refused).
// Milliseconds since the epoch, or nullopt; `read_as_utc` (when given) tells
// whether it was a date or time without a zone.
std::optional<int64_t> ParseTimestampMillis(std::string_view text, bool* read_as_utc = nullptr);
// A timestamp given as a JSON number: epoch seconds, by the same rule.
std::optional<int64_t> TimestampMillisFromSeconds(double seconds);
// Later than now by more than this is refused.
inline constexpr int64_t kMaxFutureMs = 24 * 3600 * 1000;

// The numbers an interaction may carry.
enum class Number { kRating, kDurationSeconds, kValue, kQuantity };
struct NumberRule {
  const char* field;    // as the upload's column and the tracked event name it
  double min, max;
  bool min_exclusive;   // quantity: more than 0
  const char* allowed;  // "a number from 1 to 5", to complete an error message
  bool Allows(double x) const { return (min_exclusive ? x > min : x >= min) && x <= max; }
};
const NumberRule& Rule(Number n);

}  // namespace embedrec::interactions
