#include "analytics/attribution.h"

#include <boost/json.hpp>

namespace embedrec::analytics {

Role RoleOf(std::string_view type) {
  if (type == "view" || type == "click") return Role::kClick;
  if (type == "add_to_cart") return Role::kCart;
  if (type == "purchase") return Role::kPurchase;
  if (type == "recommendations_shown") return Role::kImpression;
  return Role::kNone;
}

EventContext ContextOf(const std::string& recommendation_id_field, const std::string& context_json) {
  EventContext out{recommendation_id_field, ""};
  if (context_json.empty()) return out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(context_json, ec);
  if (ec || !v.is_object()) return out;
  auto text = [&](const char* key, size_t max) -> std::string {
    const boost::json::value* x = v.as_object().if_contains(key);
    if (!x || !x->is_string() || x->as_string().size() > max) return "";
    return std::string(x->as_string());
  };
  if (out.recommendation_id.empty()) out.recommendation_id = text("recommendation_id", 128);
  out.source = text("source", 64);
  return out;
}

bool Showed(const store::RecommendationRecord& record, const std::string& item_id, int64_t ts_ms,
            int64_t window_ms) {
  if (record.ts_ms > ts_ms || record.ts_ms < ts_ms - window_ms) return false;
  for (const auto& shown : record.items) {
    if (shown.item_id == item_id) return true;
  }
  return false;
}

const store::RecommendationRecord* ClickSource(const TrackedEvent& ev, const store::RecommendationRecord* named,
                                               const std::vector<store::RecommendationRecord>& recent) {
  if (named && Showed(*named, ev.item_id, ev.ts_ms, ev.windows.click_ms)) return named;
  for (const auto& r : recent) {
    if (Showed(r, ev.item_id, ev.ts_ms, ev.windows.click_ms)) return &r;
  }
  return nullptr;
}

double Revenue(const TrackedEvent& ev) {
  const double price = ev.price.value_or(ev.catalog_price.value_or(0.0));
  return price * ev.quantity.value_or(1.0);
}

}  // namespace embedrec::analytics
