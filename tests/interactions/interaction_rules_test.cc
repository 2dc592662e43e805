#include "interactions/interaction_rules.h"

#include <gtest/gtest.h>

#include <limits>

namespace embedrec::interactions {
namespace {

TEST(InteractionRulesTest, ParsesRfc3339AndEpochSeconds) {
  EXPECT_EQ(ParseTimestampMillis("2024-01-10T14:23:00Z"), 1704896580000);
  EXPECT_EQ(ParseTimestampMillis(" 1704896580 "), 1704896580000);
  EXPECT_EQ(ParseTimestampMillis("1704896580.25"), 1704896580250);
  EXPECT_FALSE(ParseTimestampMillis("1704896580000"));  // milliseconds are not seconds
  bool utc = true;
  EXPECT_EQ(ParseTimestampMillis("2024-01-10T14:23:00Z", &utc), 1704896580000);
  EXPECT_FALSE(utc);
  EXPECT_EQ(ParseTimestampMillis("2024-01-10 14:23", &utc), 1704896580000);  // as exports write it
  EXPECT_TRUE(utc);
  EXPECT_EQ(ParseTimestampMillis("2024-01-10", &utc), 1704844800000);
  EXPECT_FALSE(ParseTimestampMillis("10/01/2024"));
  EXPECT_FALSE(ParseTimestampMillis(""));
  EXPECT_FALSE(ParseTimestampMillis("1.2.3"));
}

TEST(InteractionRulesTest, ATypeIsReadInAnySpellingAndByItsStandardEventNames) {
  for (const char* s : {"Add To Cart", "addToCart", "add-to-cart", "Product Added"}) {
    EXPECT_EQ(TypeSpelling(s), "add_to_cart") << s;
  }
  EXPECT_EQ(TypeSpelling("view_item"), "view");
  EXPECT_EQ(TypeSpelling("Product Viewed"), "view");
  EXPECT_EQ(TypeSpelling("Order Completed"), "purchase");
  EXPECT_EQ(TypeSpelling("Wish List"), "wish_list");  // a custom type's spelling, if the tenant has it
  EXPECT_FALSE(KnownType(TypeSpelling("teleport"), {}));
  std::string m = UnknownTypeMessage("purchse", {});
  EXPECT_NE(m.find("did you mean 'purchase'?"), std::string::npos) << m;
  EXPECT_EQ(UnknownTypeMessage("teleport", {}).find("did you mean"), std::string::npos);
}

TEST(InteractionRulesTest, ANumericTimestampFollowsTheTextRule) {
  EXPECT_EQ(TimestampMillisFromSeconds(1704896580.25), 1704896580250);
  EXPECT_FALSE(TimestampMillisFromSeconds(1704896580000.0));  // milliseconds, as text refuses them
  EXPECT_FALSE(TimestampMillisFromSeconds(-1));
  EXPECT_FALSE(TimestampMillisFromSeconds(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(TimestampMillisFromSeconds(std::numeric_limits<double>::quiet_NaN()));
}

TEST(InteractionRulesTest, OneRulePerNumber) {
  EXPECT_TRUE(Rule(Number::kRating).Allows(1));
  EXPECT_TRUE(Rule(Number::kRating).Allows(5));
  EXPECT_FALSE(Rule(Number::kRating).Allows(0.5));
  EXPECT_FALSE(Rule(Number::kQuantity).Allows(0));  // a purchase of nothing
  EXPECT_TRUE(Rule(Number::kQuantity).Allows(0.5));
  EXPECT_TRUE(Rule(Number::kValue).Allows(0));      // a free item
  EXPECT_FALSE(Rule(Number::kValue).Allows(-1));
  EXPECT_FALSE(Rule(Number::kDurationSeconds).Allows(2e9));
  EXPECT_FALSE(Rule(Number::kValue).Allows(std::numeric_limits<double>::quiet_NaN()));
}

TEST(InteractionRulesTest, KnowsTheBuiltInAndTheTenantsTypes) {
  EXPECT_TRUE(KnownType("purchase", {}));
  EXPECT_FALSE(KnownType("wishlist", {}));
  EXPECT_TRUE(KnownType("wishlist", {"wishlist"}));
  EXPECT_EQ(BuiltInTypes().size(), 9u);
}

}  // namespace
}  // namespace embedrec::interactions
