#include "ingest/written_number.h"

#include <gtest/gtest.h>

namespace embedrec::ingest {
namespace {

constexpr NumberStyle kComma{.delimiter = ',', .amount = false};
constexpr NumberStyle kSemicolon{.delimiter = ';', .amount = false};
constexpr NumberStyle kCommaAmount{.delimiter = ',', .amount = true};
constexpr NumberStyle kSemicolonAmount{.delimiter = ';', .amount = true};

std::string Plain(std::string_view field, NumberStyle style) {
  auto n = ReadWrittenNumber(field, style);
  return n ? n->plain : "<none>";
}

std::string Currency(std::string_view field, NumberStyle style) {
  auto n = ReadWrittenNumber(field, style);
  return n ? n->currency : "<none>";
}

TEST(WrittenNumberTest, PlainNumbersAreKeptAsTheyAre) {
  for (const char* plain : {"12", "12.99", ".5", "0", "1.299", "-3.25", "1000000"}) {
    EXPECT_EQ(Plain(plain, kComma), plain) << plain;
    EXPECT_EQ(Plain(plain, kSemicolon), plain) << plain;
  }
}

// Each field read in a style, and what it reads as.
struct Case {
  std::string_view field;
  NumberStyle style;
  std::string_view plain, currency = "";
};

void ExpectReadings(std::initializer_list<Case> cases) {
  for (const Case& c : cases) {
    EXPECT_EQ(Plain(c.field, c.style), c.plain) << c.field;
    EXPECT_EQ(Currency(c.field, c.style), c.currency) << c.field;
  }
}

TEST(WrittenNumberTest, ADecimalCommaWhereItCannotGroupThousands) {
  ExpectReadings({{"12,99", kSemicolon, "12.99"},
                  {"0,5", kSemicolon, "0.5"},
                  {"-3,25", kSemicolon, "-3.25"},
                  {"0,125", kSemicolon, "0.125"},        // a group never starts with 0
                  {"1234,567", kSemicolon, "1234.567"},  // four digits before: no group
                  {"4,5", kComma, "4.5"}});              // a quoted field of a comma-separated file
}

TEST(WrittenNumberTest, ThousandsGroupedAnyWayExportsWriteThem) {
  ExpectReadings({{"1.000,50", kSemicolon, "1000.50"},
                  {"1,299.00", kComma, "1299.00"},
                  {"1,299.00", kSemicolon, "1299.00"},
                  {"12.345.678", kSemicolon, "12345678"},
                  {"12,345,678", kComma, "12345678"},
                  {"1 299,00", kSemicolon, "1299.00"},
                  {"1\xC2\xA0" "299,00", kSemicolon, "1299.00"},      // no-break space
                  {"1\xE2\x80\xAF" "299,00", kSemicolon, "1299.00"},  // narrow no-break space
                  {"1'299.50", kComma, "1299.50"},
                  {"1\xE2\x80\x99" "299.50", kComma, "1299.50"},
                  {"1,00,000.00", kComma, "100000.00"},  // India
                  {"-1.299,5", kSemicolon, "-1299.5"}});
}

TEST(WrittenNumberTest, ALoneCommaBeforeThreeDigitsGroupsOnlyInACommaSeparatedFile) {
  EXPECT_EQ(Plain("1,234", kComma), "1234");
  std::string why;
  EXPECT_EQ(ReadWrittenNumber("1,234", kSemicolon, &why), std::nullopt);
  EXPECT_NE(why.find("'1,234' may be a thousand and more or a decimal"), std::string::npos) << why;
  EXPECT_EQ(Plain("1.234", kSemicolon), "1.234");  // a lone point is a decimal point
}

TEST(WrittenNumberTest, WhatIsNotANumberOrIsGroupedWronglyIsRefused) {
  for (const char* bad : {"", " ", "abc", "1e5", "12a", "5,", "5.", ",", ".", "1,2,3", "1.2.3", "12,34,5",
                          "1.000.50", "1,000.000,5", "1.000,000.5", "0,123,456", "1,23.4", "1 2,5", "--5",
                          "1 000 000,00,0", "+5", "1..5", "1,,000", "1.000,", "$12", "12 EUR"}) {
    EXPECT_EQ(Plain(bad, kSemicolon), "<none>") << bad;
  }
  std::string why;
  EXPECT_EQ(ReadWrittenNumber("abc", kSemicolon, &why), std::nullopt);
  EXPECT_EQ(why, "");  // nothing to say beyond "not a number"
}

TEST(WrittenNumberTest, AnAmountMayCarryItsCurrencyBeforeOrAfter) {
  ExpectReadings({{"$12.99", kCommaAmount, "12.99", "$"},
                  {"12,99 \xE2\x82\xAC", kSemicolonAmount, "12.99", "\xE2\x82\xAC"},
                  {"\xE2\x82\xAC" "1.299,00", kSemicolonAmount, "1299.00", "\xE2\x82\xAC"},
                  {"EUR 12.99", kCommaAmount, "12.99", "EUR"},
                  {"12.99USD", kCommaAmount, "12.99", "USD"},
                  {"US$ 1,299.00", kCommaAmount, "1299.00", "US$"},
                  {"1 299,00 z\xC5\x82", kSemicolonAmount, "1299.00", "z\xC5\x82"},
                  {"CHF 1'299.50", kCommaAmount, "1299.50", "CHF"},
                  {"12.99", kCommaAmount, "12.99"},
                  {"-$5", kCommaAmount, "-5", "$"},
                  {"$-5", kCommaAmount, "-5", "$"},
                  {"  \xC2\xA3" "7.50  ", kCommaAmount, "7.50", "\xC2\xA3"}});
}

TEST(WrittenNumberTest, OnlyOneCurrencyAndOnlyACurrencyBesideAnAmount) {
  for (const char* bad : {"$12$", "$ EUR 12", "12 EURO", "EURO 12", "Eur 12", "12 eur", "-$-5", "$", "EUR",
                          "12 ABCD", "US$", "$12 abc"}) {
    EXPECT_EQ(Plain(bad, kCommaAmount), "<none>") << bad;
  }
}

TEST(WrittenNumberTest, ASignMayDenoteTheCodesItIsUsedFor) {
  using Pair = std::pair<std::string_view, std::string_view>;
  for (auto [written, code] : {Pair{"EUR", "EUR"}, Pair{"\xE2\x82\xAC", "EUR"}, Pair{"$", "USD"}, Pair{"$", "CAD"},
                               Pair{"US$", "USD"}, Pair{"kr", "SEK"}, Pair{"kr", "ISK"}}) {
    EXPECT_TRUE(MayDenote(written, code)) << written << " " << code;
  }
  // Whole codes only ("US" is no code of "$").
  for (auto [written, code] : {Pair{"US$", "CAD"}, Pair{"$", "EUR"}, Pair{"USD", "EUR"}, Pair{"$", "US"},
                               Pair{"kr", "EK"}, Pair{"", "EUR"}}) {
    EXPECT_FALSE(MayDenote(written, code)) << written << " " << code;
  }
  for (auto [a, b] : {Pair{"\xE2\x82\xAC", "EUR"}, Pair{"US$", "USD"}, Pair{"$", "$"}}) {
    EXPECT_TRUE(SameCurrency(a, b)) << a << " " << b;
  }
  for (auto [a, b] : {Pair{"$", "USD"}, Pair{"EUR", "USD"}}) EXPECT_FALSE(SameCurrency(a, b)) << a << " " << b;
}

}  // namespace
}  // namespace embedrec::ingest
