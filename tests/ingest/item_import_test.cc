#include "ingest/item_import.h"

#include <gtest/gtest.h>

#include "ingest/fake_import_batch.h"

namespace embedrec::ingest {
namespace {

using RecordingBatch = testing::FakeImportBatch;

StatusOr<ImportResult> Import(std::string csv, RecordingBatch* batch, const std::string& currency = "") {
  auto src = NewStringSource(std::move(csv));
  return ImportItemsCsv(src.get(), batch, 0, currency);
}

TEST(ItemImportTest, MapsKnownColumnsInAnyOrderAndKeepsOthersAsProperties) {
  RecordingBatch b;
  auto r = Import("Brand,ITEM_ID,tags,price,Available,size\nAcme,P1, a | b ||c ,2.50,no,XL\n", &b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(b.items.size(), 1u);
  const auto& it = b.items[0];
  EXPECT_EQ(it.item_id, "P1");
  EXPECT_EQ(it.brand, "Acme");
  EXPECT_EQ(it.tags, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_DOUBLE_EQ(*it.price, 2.5);
  EXPECT_FALSE(it.available);
  EXPECT_EQ(it.properties_json, R"({"size":"XL"})");
  EXPECT_EQ(r->extra_columns, (std::vector<std::string>{"size"}));
}

TEST(ItemImportTest, PriceMustBeANonNegativeDecimal) {
  for (const char* bad : {"1e3", "1,5", "5.", "5$5", "$", "-1", "-$1", "abc", "NaN", "inf"}) {
    RecordingBatch b;
    auto r = Import(std::string("item_id,price\nP1,") + bad + "\n", &b);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->rows_rejected, 1) << bad;
    EXPECT_TRUE(b.items.empty()) << bad;
  }
  RecordingBatch b;
  auto r = Import("item_id,price\nP1,0\nP2,\nP3, 19.99 \nP4,.5\n", &b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows_accepted, 4);
  EXPECT_FALSE(b.items[1].price.has_value());
}

TEST(ItemImportTest, ASemicolonSeparatedSpreadsheetExportIsReadWithItsDecimalCommas) {
  RecordingBatch b;
  auto r = Import("\xEF\xBB\xBFitem_id;name;price\r\nP1;\"Kaffee, gemahlen\";12,99\r\nP2;Tee;3\r\nP3;Set;1,234\r\n", &b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(b.items.size(), 2u);
  EXPECT_EQ(b.items[0].name, "Kaffee, gemahlen");
  EXPECT_DOUBLE_EQ(*b.items[0].price, 12.99);
  EXPECT_DOUBLE_EQ(*b.items[1].price, 3);
  // "1,234": a thousands separator as likely as a decimal comma, refused.
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].row, 4u);
  EXPECT_NE(r->errors[0].error.find("may be a thousand and more or a decimal"), std::string::npos) << r->errors[0].error;
  // In a comma-separated file a quoted "12,99" cannot group thousands; a quoted "1,234" does.
  RecordingBatch c;
  auto q = Import("item_id,price\nP1,\"12,99\"\nP2,\"1,234\"\n", &c);
  ASSERT_EQ(c.items.size(), 2u);
  EXPECT_DOUBLE_EQ(*c.items[0].price, 12.99);
  EXPECT_DOUBLE_EQ(*c.items[1].price, 1234);
}

TEST(ItemImportTest, PricesWithTheirCurrencyAndThousandsAsShopsExportThem) {
  RecordingBatch b;
  auto r = Import("item_id;price\nP1;1.299,00 \xE2\x82\xAC\nP2;\xE2\x82\xAC 12,50\nP3;7\nP4;$7\nP5;EUR 1 000,00\n", &b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(b.items.size(), 4u);
  EXPECT_DOUBLE_EQ(*b.items[0].price, 1299);
  EXPECT_DOUBLE_EQ(*b.items[1].price, 12.5);
  EXPECT_DOUBLE_EQ(*b.items[2].price, 7);     // no sign: the file's currency
  EXPECT_DOUBLE_EQ(*b.items[3].price, 1000);  // the euro's code: the same currency as its sign
  EXPECT_EQ(r->currency, "\xE2\x82\xAC");
  // Another currency is not converted: its rows are refused, saying why.
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].row, 5u);
  EXPECT_NE(r->errors[0].error.find("amount written in '$', the file's earlier amounts in '\xE2\x82\xAC'"),
            std::string::npos) << r->errors[0].error;
}

TEST(ItemImportTest, TheShopsCurrencyRefusesAmountsWrittenInAnother) {
  RecordingBatch b;
  auto r = Import("item_id,price\nP1,$7\nP2,EUR 5\nP3,\"1,299.00 \xE2\x82\xAC\"\nP4,3\n", &b, "EUR");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(b.items.size(), 3u);  // P2, P3, P4: the euro's code and sign, and no sign
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].row, 2u);
  EXPECT_NE(r->errors[0].error.find("the shop's currency is EUR (settings.currency)"), std::string::npos)
      << r->errors[0].error;
  EXPECT_EQ(r->currency, "EUR");  // the first written in the shop's currency
  // Without a shop currency, a sign and its one code are the same ("$" is not "USD": several dollars).
  RecordingBatch c;
  auto s = Import("item_id,price\nP1,\xE2\x82\xAC" "7\nP2,EUR 5\nP3,$5\n", &c);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(c.items.size(), 2u);
  ASSERT_EQ(s->errors.size(), 1u);
  EXPECT_EQ(s->errors[0].row, 4u);
}

TEST(ItemImportTest, TagsAsShopPlatformsExportThem) {
  RecordingBatch b;
  auto r = Import("item_id,tags\nP1,\"cotton, summer ,\"\nP2,\"a|b,c\"\nP3,x; y\nP4,solo\n", &b);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(b.items.size(), 4u);
  EXPECT_EQ(b.items[0].tags, (std::vector<std::string>{"cotton", "summer"}));
  EXPECT_EQ(b.items[1].tags, (std::vector<std::string>{"a", "b,c"}));  // bars first: a comma is then text
  EXPECT_EQ(b.items[2].tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b.items[3].tags, (std::vector<std::string>{"solo"}));
}

TEST(ItemImportTest, ListsAtMostAHundredErrorsAndCountsTheRest) {
  std::string csv = "item_id,price\n";
  for (int i = 0; i < 250; ++i) csv += "P" + std::to_string(i) + ",bad\n";
  RecordingBatch b;
  auto r = Import(csv, &b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows_rejected, 250);
  EXPECT_EQ(r->errors.size(), kMaxListedErrors);
  EXPECT_EQ(r->errors_not_listed, 150);
  EXPECT_EQ(r->errors.front().row, 2u);
}

TEST(ItemImportTest, WholeFileProblemsAreUnprocessable) {
  RecordingBatch b;
  EXPECT_EQ(Import("", &b).status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Import("name\nx\n", &b).status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Import("item_id,ITEM_ID\n", &b).status().code(), StatusCode::kUnprocessable);
}

}  // namespace
}  // namespace embedrec::ingest
