// Text checks used wherever a client's text is stored or echoed.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace embedrec {
namespace {

TEST(StringsTest, ControlCharactersAreFoundLineBreaksOnlyWhereAllowed) {
  EXPECT_FALSE(HasControlChars("SKU-123 ünïcode", false));
  EXPECT_TRUE(HasControlChars(std::string("a\0b", 3), false));
  EXPECT_TRUE(HasControlChars("a\x7f", true));
  EXPECT_TRUE(HasControlChars("line\nbreak", false));
  EXPECT_FALSE(HasControlChars("line\nbreak\tand\r", true));
  EXPECT_TRUE(HasControlChars("bell\a", true));
}

TEST(StringsTest, InvalidUtf8IsReplacedAndValidTextKept) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ValidUtf8("/items/\xff\xfe"), "/items/\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("a\xc3"), "a\xef\xbf\xbd");          // cut short
  EXPECT_EQ(ValidUtf8("\xe2\x82\xac\x80x"), "\xe2\x82\xac\xef\xbf\xbdx");  // a stray continuation
  EXPECT_TRUE(IsValidUtf8(ValidUtf8("\xf0\x9f\x98\x80\xf0\x9f")));
}

TEST(StringsTest, SnakeCaseMakesOneNameOfEverySpelling) {
  for (const char* n : {"user_id", "User ID", "userId", "user-id", "USER_ID", " user  id ", "UserId"}) {
    EXPECT_EQ(SnakeCase(n), "user_id") << n;
  }
  EXPECT_EQ(SnakeCase("productID"), "product_id");
  EXPECT_EQ(SnakeCase("Interaction Type"), "interaction_type");
  EXPECT_EQ(SnakeCase("price"), "price");
  EXPECT_EQ(SnakeCase("größe"), "größe");  // not ASCII: kept
  EXPECT_EQ(SnakeCase(""), "");
}

TEST(StringsTest, ClosestNameFindsWhatAClientMeant) {
  const std::vector<std::string_view> filters = {"category", "categories", "brand", "price_min", "price_max",
                                                 "tags_any", "exclude_item_ids", "include_item_ids", "in_stock_only"};
  EXPECT_EQ(ClosestName("min_price", filters), "price_min");     // words in another order
  EXPECT_EQ(ClosestName("maxPrice", filters), "price_max");      // camelCase
  EXPECT_EQ(ClosestName("in_stock", filters), "in_stock_only");  // a word less
  EXPECT_EQ(ClosestName("tags", filters), "tags_any");
  EXPECT_EQ(ClosestName("exclude_items", filters), "exclude_item_ids");  // plurals are one word
  EXPECT_EQ(ClosestName("categroy", filters), "category");       // letters swapped
  EXPECT_EQ(ClosestName("Brand", filters), "brand");
  EXPECT_EQ(ClosestName("brnd", filters), "brand");
  EXPECT_EQ(ClosestName("hyperparams", {"model_type", "hyperparameters"}), "hyperparameters");  // cut short
  EXPECT_EQ(ClosestName("price", filters), "");   // price_min or price_max: either
  EXPECT_EQ(ClosestName("colour", filters), "");  // nothing close
  EXPECT_EQ(ClosestName("", filters), "");
  EXPECT_EQ(ClosestName(std::string(1000, 'a'), filters), "");
  EXPECT_EQ(ClosestName("name", {}), "");
}

}  // namespace
}  // namespace embedrec
