#include "common/json_schema.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace embedrec {
namespace {
namespace json = boost::json;

JsonSchema Must(std::string_view text) {
  auto s = JsonSchema::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

Status Check(const JsonSchema& s, std::string_view body) { return s.Validate(json::parse(body)); }

std::string DetailOf(const Status& s, std::string_view key) {
  for (const auto& [k, v] : s.details()) {
    if (k == key) return v;
  }
  return "";
}
std::string FieldOf(const Status& s) { return DetailOf(s, "field"); }

const char* kEvent = R"({"type":"object","required":["user_id","interaction_type"],"properties":{
  "user_id":{"type":"string","minLength":1,"maxLength":8},
  "interaction_type":{"type":"string","enum":["view","purchase"]},
  "count":{"type":"integer","minimum":1,"maximum":100},
  "score":{"type":"number","minimum":0,"exclusiveMinimum":true},
  "timestamp":{"anyOf":[{"type":"string"},{"type":"number"}]},
  "context":{"type":"object","properties":{"page":{"type":"string","maxLength":3}}},
  "tags":{"type":"array","maxItems":2,"items":{"type":"string"}}}})";

TEST(JsonSchemaTest, AcceptsWhatItDeclaresAndTreatsNullAsAbsent) {
  JsonSchema s = Must(kEvent);
  EXPECT_TRUE(Check(s, R"({"user_id":"u1","interaction_type":"view"})").ok());
  EXPECT_TRUE(Check(s, R"({"user_id":"u1","interaction_type":"view","count":5.0,"score":0.5,
                          "timestamp":"2024-01-01T00:00:00Z","context":{"page":"pdp"},"tags":["a"],
                          "unknown":{"x":1}})").ok());
  EXPECT_TRUE(Check(s, R"({"user_id":"u1","interaction_type":"view","timestamp":17e8,"count":null})").ok());
}

TEST(JsonSchemaTest, WrongTypesAndMissingFieldsAre400NamingTheField) {
  JsonSchema s = Must(kEvent);
  Status st = Check(s, R"({"interaction_type":"view"})");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.reason(), "missing_field");
  EXPECT_EQ(FieldOf(st), "user_id");
  st = Check(s, R"({"user_id":null,"interaction_type":"view"})");  // null is absent
  EXPECT_EQ(FieldOf(st), "user_id");
  st = Check(s, R"({"user_id":"u","interaction_type":"view","count":1.5})");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(st), "count");
  st = Check(s, R"({"user_id":"u","interaction_type":"view","context":{"page":7}})");
  EXPECT_EQ(FieldOf(st), "context.page");
  st = Check(s, R"({"user_id":"u","interaction_type":"view","tags":["a",1]})");
  EXPECT_EQ(FieldOf(st), "tags[1]");  // which item
  st = Check(s, R"({"user_id":"u","interaction_type":"view","timestamp":true})");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(st), "timestamp");
}

TEST(JsonSchemaTest, BrokenRulesAre422NamingTheField) {
  JsonSchema s = Must(kEvent);
  for (const char* body : {R"({"user_id":"","interaction_type":"view"})",
                           R"({"user_id":"123456789","interaction_type":"view"})",
                           R"({"user_id":"u","interaction_type":"click"})",
                           R"({"user_id":"u","interaction_type":"view","count":0})",
                           R"({"user_id":"u","interaction_type":"view","count":101})",
                           R"({"user_id":"u","interaction_type":"view","score":0})",
                           R"({"user_id":"u","interaction_type":"view","tags":["a","b","c"]})",
                           R"({"user_id":"u","interaction_type":"view","context":{"page":"long"}})"}) {
    Status st = Check(s, body);
    EXPECT_EQ(st.code(), StatusCode::kUnprocessable) << body << ": " << st.message();
    EXPECT_FALSE(FieldOf(st).empty()) << body;
  }
  // Lengths count code points, not bytes.
  EXPECT_TRUE(Check(s, R"({"user_id":"éééééééé","interaction_type":"view"})").ok());
}

TEST(JsonSchemaTest, TextIsPrintableAndIdsAreOneLine) {
  JsonSchema s = Must(R"({"type":"object","properties":{"item_id":{"type":"string"},"name":{"type":"string"},
    "tags_ids":{"type":"array","items":{"type":"string"}},"meta":{"type":"object","additionalProperties":{"type":"string"}}}})");
  EXPECT_TRUE(Check(s, R"({"item_id":"sku-1","name":"two\nlines\tand a tab"})").ok());
  Status id = Check(s, R"({"item_id":"sku\n1"})");
  EXPECT_EQ(id.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(FieldOf(id), "item_id");
  EXPECT_EQ(Check(s, R"({"name":"bell\u0007"})").code(), StatusCode::kUnprocessable);
  EXPECT_EQ(FieldOf(Check(s, R"({"tags_ids":["a","b\r"]})")), "tags_ids[1]");
  EXPECT_EQ(FieldOf(Check(s, R"({"meta":{"k":"\u0000"}})")), "meta.k");
  EXPECT_TRUE(Check(s, R"({"meta":{"k":"line\nbreak"}})").ok());
}

TEST(JsonSchemaTest, ClosedObjectsRefuseUnknownFields) {
  JsonSchema s = Must(R"({"type":"object","additionalProperties":false,"properties":{"a":{"type":"string"}}})");
  EXPECT_TRUE(Check(s, R"({"a":"x"})").ok());
  EXPECT_EQ(Check(s, R"({"b":1})").code(), StatusCode::kUnprocessable);
  // The error names what is known there, and the one likely meant.
  JsonSchema filters = Must(R"({"type":"object","properties":{"filters":{"type":"object","additionalProperties":false,
    "properties":{"category":{"type":"string"},"price_min":{"type":"number"},"price_max":{"type":"number"}}}}})");
  Status swapped = Check(filters, R"({"filters":{"min_price":10}})");
  EXPECT_EQ(swapped.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(FieldOf(swapped), "filters.min_price");
  EXPECT_EQ(DetailOf(swapped, "did_you_mean"), "filters.price_min");
  EXPECT_EQ(DetailOf(swapped, "known_fields"), "category, price_min, price_max");
  EXPECT_NE(swapped.message().find("did you mean 'filters.price_min'?"), std::string::npos) << swapped.message();
  Status far = Check(filters, R"({"filters":{"colour":"red"}})");
  EXPECT_EQ(DetailOf(far, "did_you_mean"), "");
  EXPECT_EQ(far.message(), "unknown field 'filters.colour' (known: category, price_min, price_max)");
  Status huge = Check(filters, "{\"filters\":{\"" + std::string(5000, 'k') + "\":1}}");
  EXPECT_LT(huge.message().size(), 300u);  // the name is cut in what is echoed
  // Open objects ignore unknown properties, but at the top one close to a
  // declared property is a likely typo and refused; deeper ones pass.
  JsonSchema open = Must(R"({"type":"object","properties":{"count":{"type":"integer"},
    "filters":{"type":"object"},"context":{"type":"object","properties":{"device":{"type":"string"}}}}})");
  EXPECT_TRUE(Check(open, R"({"count":3,"session_id":"s1","context":{"device_type":"mobile"}})").ok());
  Status typo = Check(open, R"({"filter":{"category":"books"}})");
  EXPECT_EQ(typo.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(DetailOf(typo, "did_you_mean"), "filters");
  EXPECT_EQ(DetailOf(Check(open, R"({"cout":3})"), "did_you_mean"), "count");
  JsonSchema weights = Must(R"({"type":"object","additionalProperties":{"type":"number","minimum":0}})");
  EXPECT_TRUE(Check(weights, R"({"view":1,"purchase":5})").ok());
  EXPECT_EQ(FieldOf(Check(weights, R"({"view":-1})")), "view");
}

TEST(JsonSchemaTest, TextParametersConvertToTheirTypeAndMalformedNumbersAre400) {
  JsonSchema limit = Must(R"({"type":"integer","minimum":1,"maximum":1000})");
  EXPECT_TRUE(limit.ValidateText("10", "limit").ok());
  for (const char* bad : {"0", "1001", "ten", "1.5", "", "1e400", "9223372036854775808", "-9223372036854775809"}) {
    Status st = limit.ValidateText(bad, "limit");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(FieldOf(st), "limit") << bad;
  }
  JsonSchema mode = Must(R"({"type":"string","enum":["upsert","replace"]})");
  EXPECT_TRUE(mode.ValidateText("replace", "mode").ok());
  EXPECT_EQ(mode.ValidateText("merge", "mode").code(), StatusCode::kUnprocessable);
  JsonSchema flag = Must(R"({"type":"boolean"})");
  EXPECT_TRUE(flag.ValidateText("true", "x").ok());
  EXPECT_FALSE(flag.ValidateText("yes", "x").ok());
}

TEST(JsonSchemaTest, MalformedSchemasAreRefusedAtParse) {
  for (const char* bad : {"[]", "{", R"({"type":"float"})", R"({"properties":[]})", R"({"required":"a"})",
                          R"({"items":{"type":"nope"}})", R"({"anyOf":[]})", R"({"maximum":"5"})",
                          R"({"enum":[]})"}) {
    EXPECT_FALSE(JsonSchema::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace embedrec
