// Merchandising rules a shop sets on its recommendations (issue 16;
// settings.merchandising): boost or bury items by their attributes, pin
// items to positions on a page, and cap how many of one category or brand a
// list shows. Applied after the model's scoring, to a candidate list longer
// than asked (so `count` is still filled after burying, capping and the
// filters), and named in each item's reason when a rule placed it.
//
//   settings.merchandising = {
//     "rules": [
//       {"name": "summer audio", "action": "boost", "weight": 0.5,
//        "when": {"category": "Audio", "brand": "…", "tag": "…", "price_min": 10, "price_max": 100,
//                 "property": "margin", "property_min": 0.3, "property_max": 1, "property_equals": "…"},
//        "pages": ["home"]},
//       {"name": "clearance", "action": "bury", "weight": 0.8, "when": {"tag": "clearance"}},
//       {"name": "hero", "action": "pin", "item_id": "PROD_1", "position": 1, "pages": ["home"]}],
//     "diversity": {"max_per_category": 3, "max_per_brand": 2}}
//
//   order: score × Π(1 + weight) of the boosts matching × Π(1 − weight) of the
//     buries matching (every condition of `when` must hold; `pages` empty: every
//     page, else the request's context.page must be one of them), best first;
//   diversity: taken in that order, an item over a cap waits; the list is
//     filled with the waiting ones only when nothing else is left;
//   pins: the pinned item (when it exists, is available and passes the
//     request's filters and exclusions) at its position (1-based), on its pages.
// Scores stay the model's estimates: with rules, the order is the shop's.
//
// Thread safety: immutable once parsed; safe to share.
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "serving/recommender.h"

namespace embedrec::serving {

struct MerchCondition {
  std::string category, brand, tag;
  std::optional<double> price_min, price_max;
  std::string property;  // a key of the item's properties
  std::optional<double> property_min, property_max;
  std::optional<std::string> property_equals;  // compared with the property as text ("true", "12", "red")
  bool Matches(const CatalogItem& item) const;
};

struct MerchRule {
  enum class Action { kBoost, kBury, kPin };
  std::string name;
  Action action = Action::kBoost;
  double weight = 0;        // boost: (0, 10]; bury: (0, 1]
  MerchCondition when;      // boost, bury
  std::string item_id;      // pin
  int position = 1;         // pin, 1-based
  std::set<std::string> pages;  // empty: every page
  bool OnPage(std::string_view page) const { return pages.empty() || pages.count(std::string(page)) > 0; }
};

struct Merchandising {
  std::vector<MerchRule> rules;
  int max_per_category = 0, max_per_brand = 0;  // 0: no cap
  bool empty() const { return rules.empty() && max_per_category == 0 && max_per_brand == 0; }
};

inline constexpr size_t kMaxMerchRules = 100;

// Reads settings.merchandising (null: none). Errors are 400/422 naming the
// field ("settings.merchandising.rules[2].weight").
StatusOr<Merchandising> ParseMerchandising(const boost::json::value& v);

// How many candidates to rank for `count` items when rules apply.
int MerchandisingPool(int count);

// The list shown: `ranked` (best first, longer than `count`) reordered by the
// rules for `page`, capped, pinned, cut to `count`. `allowed`: whether an item
// may be shown to this request (filters, exclusions).
std::vector<Recommendation> Merchandise(const Merchandising& m, std::string_view page,
                                        std::vector<Recommendation> ranked, int count,
                                        const CatalogSnapshot& catalog,
                                        const std::function<bool(const CatalogItem&)>& allowed);

}  // namespace embedrec::serving
