#include "ingest/header_columns.h"

#include <gtest/gtest.h>

namespace embedrec::ingest {
namespace {

std::string DetailOf(const Status& s, std::string_view key) {
  for (const auto& [k, v] : s.details()) {
    if (k == key) return v;
  }
  return "";
}

const std::vector<ColumnAlias> kAliases = {{"item_id", {"product_id", "sku"}}, {"name", {"title"}}};

TEST(HeaderColumnsTest, EverySpellingOfANameAndOneCommonOtherNameAreRead) {
  EXPECT_EQ(HeaderColumns({"Item ID", " Name ", "PRICE", "colourName"}, kAliases),
            (std::vector<std::string>{"item_id", "name", "price", "colour_name"}));
  EXPECT_EQ(HeaderColumns({"SKU", "Title"}, kAliases), (std::vector<std::string>{"item_id", "name"}));
  // The name itself wins over another name for it; two other names would be a guess.
  EXPECT_EQ(HeaderColumns({"sku", "item_id"}, kAliases), (std::vector<std::string>{"sku", "item_id"}));
  EXPECT_EQ(HeaderColumns({"sku", "product_id"}, kAliases), (std::vector<std::string>{"sku", "product_id"}));
}

TEST(HeaderColumnsTest, AMissingColumnNamesTheHeaderAndTheOneLikelyMeant) {
  EXPECT_TRUE(RequireColumn({"item_id", "name"}, "item_id").ok());
  Status s = RequireColumn({"usr_id", "item_id"}, "user_id");
  EXPECT_EQ(s.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(DetailOf(s, "did_you_mean"), "usr_id");
  EXPECT_EQ(DetailOf(s, "header"), "usr_id, item_id");
  EXPECT_NE(s.message().find("the header has no user_id column"), std::string::npos) << s.message();
  Status far = RequireColumn({"a", "b"}, "user_id");
  EXPECT_EQ(DetailOf(far, "did_you_mean"), "");
  std::vector<std::string> wide(100, std::string(500, 'x'));
  EXPECT_LT(RequireColumn(wide, "item_id").message().size(), 3000u);  // bounded
}

}  // namespace
}  // namespace embedrec::ingest
