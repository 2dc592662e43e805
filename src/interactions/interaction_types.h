// What an interaction type means, in one place: how much a view, an
// add-to-cart, a purchase or a tenant's custom type says about a user's
// interest. Training (pair weights, ALS confidence), the fold-in at serving,
// popularity and trending all weigh events through this, so a tenant's
// settings.interaction_types change every one of them alike.
//
// Thread safety: immutable after construction; copy freely.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace embedrec::interactions {

// Default weights, highest intent first: purchase 5, add_to_cart 3,
// rating/like/share 2, view/click 1; remove_from_cart and
// recommendations_shown 0 (not positives). Unknown and custom types weigh 1.
float DefaultTypeWeight(std::string_view type);

class TypeWeights {
 public:
  using Overrides = std::map<std::string, float, std::less<>>;
  TypeWeights() = default;  // the defaults
  explicit TypeWeights(Overrides overrides) : overrides_(std::move(overrides)) {}
  // settings.interaction_types.<type>.weight (or a bare number, 0..1000) of a
  // tenant's settings JSON, types lowercased as uploads and tracking store them; anything else is ignored (defaults stay).
  static TypeWeights FromSettings(std::string_view settings_json);

  // The type's weight: the tenant's override, else the default. 0: not a positive.
  float Weight(std::string_view type) const;
  bool Positive(std::string_view type) const { return Weight(type) > 0; }
  // Purchases are what "exclude purchased" excludes (not a weight: a fact).
  static constexpr std::string_view kPurchase = "purchase";
  static bool IsPurchase(std::string_view type) { return type == kPurchase; }
  const Overrides& overrides() const { return overrides_; }
  bool operator==(const TypeWeights& o) const { return overrides_ == o.overrides_; }

 private:
  Overrides overrides_;
};

// A tenant's weights, as the serving side asks for them (wired to the
// tenant settings cache in app/; the defaults when it cannot answer).
using TypeWeightsFn = std::function<TypeWeights(const std::string& tenant_id)>;

}  // namespace embedrec::interactions
