#include "interactions/interaction_rules.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <vector>

#include "common/strings.h"
#include "common/time_format.h"

namespace embedrec::interactions {
namespace {

// Epoch seconds with at most 11 integer digits (until the year 5138).
constexpr double kMaxEpochSeconds = 99'999'999'999.0;

}  // namespace

const std::set<std::string>& BuiltInTypes() {
  static const std::set<std::string> kTypes = {"view",     "click",  "add_to_cart",
                                               "remove_from_cart", "purchase", "rating",
                                               "like",     "share",  "recommendations_shown"};
  return kTypes;
}

bool KnownType(std::string_view type, const std::set<std::string>& custom_types) {
  const std::string t(type);
  return BuiltInTypes().count(t) > 0 || custom_types.count(t) > 0;
}

std::string TypeSpelling(std::string_view type) {
  static const std::map<std::string, std::string, std::less<>> kStandard = {
      {"view_item", "view"},          {"product_viewed", "view"},           {"select_item", "click"},
      {"product_clicked", "click"},   {"product_added", "add_to_cart"},     {"product_removed", "remove_from_cart"},
      {"order_completed", "purchase"}, {"add_to_wishlist", "like"},         {"product_added_to_wishlist", "like"},
      {"product_shared", "share"}};
  std::string snake = SnakeCase(Trim(type));
  if (auto it = kStandard.find(snake); it != kStandard.end()) return it->second;
  return snake;
}

std::string UnknownTypeMessage(std::string_view type, const std::set<std::string>& custom_types) {
  std::vector<std::string_view> known(BuiltInTypes().begin(), BuiltInTypes().end());
  for (const auto& c : custom_types) known.push_back(c);
  std::string message = "unknown interaction_type '" + ValidUtf8(type.substr(0, 40)) + "'";
  if (std::string_view meant = ClosestName(type, known); !meant.empty()) {
    message += "; did you mean '" + std::string(meant) + "'?";
  }
  return message + " (use view, click, add_to_cart, remove_from_cart, purchase, rating, like, share, "
                   "recommendations_shown, or add custom types to the tenant's settings)";
}

std::optional<int64_t> ParseTimestampMillis(std::string_view t, bool* read_as_utc) {
  if (read_as_utc) *read_as_utc = false;
  t = Trim(t);
  if (t.empty()) return std::nullopt;
  bool numeric = true;
  int dots = 0;
  for (char c : t) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') numeric = false;
  }
  if (numeric && dots <= 1 && t.front() != '.' && t.back() != '.') {
    if (t.substr(0, t.find('.')).size() > 11) return std::nullopt;  // not seconds (ms?)
    return TimestampMillisFromSeconds(std::strtod(std::string(t).c_str(), nullptr));
  }
  return ParseDateTimeMillis(t, read_as_utc);
}

std::optional<int64_t> TimestampMillisFromSeconds(double seconds) {
  if (!(seconds >= 0 && seconds <= kMaxEpochSeconds)) return std::nullopt;
  return static_cast<int64_t>(std::llround(seconds * 1000));
}

const NumberRule& Rule(Number n) {
  static const NumberRule kRules[] = {
      {"rating", 1, 5, false, "a number from 1 to 5"},
      {"duration_seconds", 0, 1e9, false, "a number from 0 to 1e9"},
      {"value", 0, 1e12, false, "a number from 0 to 1e12"},
      {"quantity", 0, 1e9, true, "a number above 0, at most 1e9"},
  };
  return kRules[static_cast<int>(n)];
}

}  // namespace embedrec::interactions
