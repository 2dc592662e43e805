// What a user is never shown again (settings.exclude_from_recommendations),
// as serving reads it; the text only where settings are parsed.
#pragma once

#include <optional>
#include <string_view>

namespace embedrec::serving {

enum class Exclusion {
  kAuto,           // purchased items once the tenant has any purchase, else every item interacted with
  kPurchased,
  kAllInteracted,
  kNone,
};

// "auto", "purchased", "all_interacted", "none"; nullopt for anything else.
inline std::optional<Exclusion> ParseExclusion(std::string_view text) {
  if (text == "auto") return Exclusion::kAuto;
  if (text == "purchased") return Exclusion::kPurchased;
  if (text == "all_interacted") return Exclusion::kAllInteracted;
  if (text == "none") return Exclusion::kNone;
  return std::nullopt;
}

// "auto" as serving and validation apply it: purchases where the shop has
// any; where it never has (ratings, plays, check-ins), what a user
// interacted with is what they consumed. Other settings as they are.
inline Exclusion Resolved(Exclusion e, bool has_purchases) {
  if (e != Exclusion::kAuto) return e;
  return has_purchases ? Exclusion::kPurchased : Exclusion::kAllInteracted;
}

inline std::string_view ExclusionName(Exclusion e) {
  switch (e) {
    case Exclusion::kAuto: return "auto";
    case Exclusion::kPurchased: return "purchased";
    case Exclusion::kAllInteracted: return "all_interacted";
    case Exclusion::kNone: return "none";
  }
  return "auto";
}

}  // namespace embedrec::serving
