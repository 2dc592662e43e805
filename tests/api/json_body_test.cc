#include "api/json_body.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace embedrec::api {
namespace {

namespace json = boost::json;

StatusOr<std::optional<double>> Read(std::string_view body) {
  return OptDecimal(json::parse(body).as_object(), "price");
}

TEST(OptDecimalTest, ANumberOrAStringHoldingOne) {
  EXPECT_EQ(*Read(R"({"price":12.5})"), 12.5);
  EXPECT_EQ(*Read(R"({"price":"12.99"})"), 12.99);
  EXPECT_EQ(*Read(R"({"price":"12,99"})"), 12.99);
  EXPECT_EQ(*Read(R"({"price":" 1.299,00 "})"), 1299);
  EXPECT_EQ(*Read(R"({"price":"1,299.00"})"), 1299);
  EXPECT_EQ(*Read(R"({"price":"-3"})"), -3);  // the caller's rules decide the range
  EXPECT_EQ(*Read(R"({"price":null})"), std::nullopt);
  EXPECT_EQ(*Read(R"({})"), std::nullopt);
}

TEST(OptDecimalTest, OtherTypesAre400AndOtherTextIs422SayingWhy) {
  for (const char* body : {R"({"price":true})", R"({"price":[1]})", R"({"price":{"amount":1}})"}) {
    auto r = Read(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << body;
  }
  for (const char* body : {R"({"price":"cheap"})", R"({"price":"$5"})", R"({"price":"5 EUR"})", R"({"price":""})",
                           R"({"price":"1e3"})", R"({"price":"NaN"})"}) {
    auto r = Read(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kUnprocessable) << body;
    EXPECT_NE(r.status().message().find("a string holding one"), std::string::npos) << r.status().message();
  }
  auto ambiguous = Read(R"({"price":"1,299"})");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.status().message().find("may be a thousand and more or a decimal"), std::string::npos)
      << ambiguous.status().message();
}

TEST(OptDecimalTest, APriceMayCarryTheShopsCurrencyOnly) {
  const json::object body = json::parse(R"({"price":"$1,299.00","rating":"$4"})").as_object();
  EXPECT_EQ(*OptDecimal(body, "price", "USD"), 1299);
  auto other = OptDecimal(body, "price", "EUR");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("the shop's currency is EUR (settings.currency)"), std::string::npos)
      << other.status().message();
  auto none = OptDecimal(body, "price", "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("the shop names no currency"), std::string::npos) << none.status().message();
  EXPECT_FALSE(OptDecimal(body, "rating").ok());  // not an amount: no currency at all
}

}  // namespace
}  // namespace embedrec::api
