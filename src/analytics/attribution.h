// The attribution rules: which tracked events count as impressions, clicks,
// carts and orders of recommendations, and what an order earns. Pure
// functions: the service (analytics/analytics.h) looks up the logged answers
// and earlier clicks they need.
//
//   impression  a logged answer (recommendations, similar, popular), or a
//               `recommendations_shown` event whose recommendation_id is not
//               a logged answer (the widget's own count, item_id may be null)
//   click       a `view` or `click` of an item a logged answer showed: the
//               answer its recommendation_id names (top level, or
//               context.recommendation_id), else the user's newest answer
//               within the click window before it that showed the item
//   cart/order  an `add_to_cart` / `purchase` of an item the same user
//               clicked from a recommendation within the conversion window
//               before it (or whose recommendation_id names an answer that
//               showed the item within that window)
//   revenue     an attributed purchase's metadata.price × metadata.quantity
//               (quantity 1 when absent; the catalog price when it has none)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/recommendation_log.h"

namespace embedrec::analytics {

// The tenant's windows (settings `attribution.click_window_minutes`,
// `attribution.conversion_window_hours`).
struct AttributionWindows {
  int64_t click_ms = 30 * 60'000;
  int64_t conversion_ms = 24 * 3'600'000;
};

enum class Role { kNone, kImpression, kClick, kCart, kPurchase };

// What a committed tracked event is to attribution.
struct TrackedEvent {
  std::string user_id, item_id, type, key_id;
  std::string recommendation_id;          // the event's field ("" when none; see ContextOf)
  int64_t ts_ms = 0;
  std::optional<double> price, quantity;  // metadata.price, metadata.quantity
  std::optional<double> catalog_price;    // the item's price in the catalog, when known
  std::string context_json;               // as tracked ("" when none); read by ContextOf
  AttributionWindows windows;
};

Role RoleOf(std::string_view interaction_type);

// What attribution reads of an event's context, parsed once: the
// recommendation_id (the event's field, else context.recommendation_id, at
// most 128 characters) and context.source (where the page showed the
// recommendation, e.g. "homepage_recommendations"; at most 64 characters).
struct EventContext {
  std::string recommendation_id, source;
};
EventContext ContextOf(const std::string& recommendation_id_field, const std::string& context_json);

// Whether `record` showed `item_id` within [ts_ms - window_ms, ts_ms].
bool Showed(const store::RecommendationRecord& record, const std::string& item_id, int64_t ts_ms,
            int64_t window_ms);

// The answer a click comes from: `named` (the record its id names, if any)
// when it showed the item in the window, else the newest of `recent` (the
// user's answers, newest first) that did.
const store::RecommendationRecord* ClickSource(const TrackedEvent& ev, const store::RecommendationRecord* named,
                                               const std::vector<store::RecommendationRecord>& recent);

// What an attributed purchase earns (0 when neither the event nor the catalog has a price).
double Revenue(const TrackedEvent& ev);

}  // namespace embedrec::analytics
