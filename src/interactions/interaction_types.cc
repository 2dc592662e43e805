#include "interactions/interaction_types.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/strings.h"

namespace embedrec::interactions {

float DefaultTypeWeight(std::string_view type) {
  if (type == "purchase") return 5;
  if (type == "add_to_cart") return 3;
  if (type == "rating" || type == "like" || type == "share") return 2;
  if (type == "remove_from_cart" || type == "recommendations_shown") return 0;
  return 1;  // view, click and custom types
}

float TypeWeights::Weight(std::string_view type) const {
  if (!overrides_.empty()) {
    if (auto it = overrides_.find(type); it != overrides_.end()) return it->second;
  }
  return DefaultTypeWeight(type);
}

TypeWeights TypeWeights::FromSettings(std::string_view settings_json) {
  Overrides w;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(settings_json, ec);
  if (ec || !v.is_object()) return TypeWeights();
  const boost::json::value* types = v.as_object().if_contains("interaction_types");
  if (!types || !types->is_object()) return TypeWeights();
  for (const auto& [type, spec] : types->as_object()) {
    const boost::json::value* weight = &spec;
    if (spec.is_object()) weight = spec.as_object().if_contains("weight");
    if (weight && weight->is_number()) {
      double x = weight->to_number<double>();
      if (x >= 0 && x <= 1000) w[AsciiLower(std::string(type))] = static_cast<float>(x);
    }
  }
  return TypeWeights(std::move(w));
}

}  // namespace embedrec::interactions
