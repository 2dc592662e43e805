#include "interactions/interaction_types.h"

#include <gtest/gtest.h>

namespace embedrec::interactions {
namespace {

TEST(InteractionTypesTest, DefaultWeightsRankIntent) {
  EXPECT_EQ(DefaultTypeWeight("purchase"), 5);
  EXPECT_GT(DefaultTypeWeight("purchase"), DefaultTypeWeight("add_to_cart"));
  EXPECT_GT(DefaultTypeWeight("add_to_cart"), DefaultTypeWeight("view"));
  EXPECT_EQ(DefaultTypeWeight("recommendations_shown"), 0);
  EXPECT_EQ(DefaultTypeWeight("wishlist"), 1);  // custom types weigh a view's worth
}

TEST(InteractionTypesTest, ATenantsSettingsOverrideTheDefaults) {
  const auto w = TypeWeights::FromSettings(
      R"({"interaction_types":{"Wishlist":{"weight":4},"view":0.5,"purchase":{"weight":-1}}})");
  EXPECT_EQ(w.Weight("wishlist"), 4);  // lowercased, as stored
  EXPECT_EQ(w.Weight("view"), 0.5f);
  EXPECT_EQ(w.Weight("purchase"), 5);  // out of range: the default stays
  EXPECT_EQ(TypeWeights::FromSettings("not json"), TypeWeights());
}

}  // namespace
}  // namespace embedrec::interactions
