// JSON text: shortest round-trip numbers, RFC 8259 escapes, and the same
// value back when parsed.
#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace embedrec {
namespace {
namespace json = boost::json;

TEST(JsonTextTest, NumbersInTheirShortestForm) {
  EXPECT_EQ(JsonText(json::value(49.95)), "49.95");
  EXPECT_EQ(JsonText(json::value(0.971091)), "0.971091");
  EXPECT_EQ(JsonText(json::value(1.0)), "1");
  EXPECT_EQ(JsonText(json::value(1e-7)), "1e-07");
  EXPECT_EQ(JsonText(json::value(int64_t{-42})), "-42");
  EXPECT_EQ(JsonText(json::value(uint64_t{18446744073709551615u})), "18446744073709551615");
  EXPECT_EQ(JsonText(json::value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(JsonText(json::value(std::nan(""))), "null");
}

TEST(JsonTextTest, StringsEscaped) {
  EXPECT_EQ(JsonText(json::value("a\"b\\c\n\t\x01 é")), "\"a\\\"b\\\\c\\n\\t\\u0001 é\"");
  std::string out;
  AppendJsonString("", &out);
  EXPECT_EQ(out, "\"\"");
}

TEST(JsonTextTest, DocumentsRoundTrip) {
  const json::value v = json::parse(
      R"({"a":[1,2.5,-3e-9,true,false,null,{"b":"x\u0000y"}],"c":{},"d":[],"e":1.7976931348623157e308})");
  const std::string text = JsonText(v);
  EXPECT_EQ(json::parse(text), v);
  EXPECT_EQ(JsonText(v.as_object()), text);
  EXPECT_EQ(JsonText(v.at("a").as_array()), JsonText(v.at("a")));
  EXPECT_EQ(JsonText(json::object{{"k", 0.1}}), R"({"k":0.1})");
}

}  // namespace
}  // namespace embedrec
