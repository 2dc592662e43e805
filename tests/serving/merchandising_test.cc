#include "serving/merchandising.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "test_util.h"

namespace embedrec::serving {
namespace {
namespace json = boost::json;

// Ten items: I0..I9, categories A (even) and B (odd), brand X for I0..I4 and
// Y for the rest, price 10·i, tag "sale" on I7 and I8, margin 0.1·i.
class MerchandisingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 10; ++i) {
      CatalogItem item;
      item.item_id = "I" + std::to_string(i);
      item.category = i % 2 ? "B" : "A";
      item.brand = i < 5 ? "X" : "Y";
      item.price = 10.0 * i;
      if (i == 7 || i == 8) item.tags = {"sale"};
      item.properties_json = "{\"margin\":" + std::to_string(0.1 * i) + ",\"season\":\"summer\"}";
      catalog_.index.emplace(item.item_id, catalog_.items.size());
      catalog_.items.push_back(item);
    }
  }
  // The model's ranking: I0 first (score 0.9), then I1 (0.85), ... I9 (0.45).
  std::vector<Recommendation> Ranked() {
    std::vector<Recommendation> out;
    for (int i = 0; i < 10; ++i) out.push_back({&catalog_.items[i], 0.9 - 0.05 * i, "because"});
    return out;
  }
  Merchandising Rules(const std::string& text) {
    auto m = ParseMerchandising(json::parse(text));
    EXPECT_OK(m);
    return m.ok() ? *m : Merchandising{};
  }
  std::vector<std::string> Ids(const std::vector<Recommendation>& recs) {
    std::vector<std::string> out;
    for (const auto& r : recs) out.push_back(r.item->item_id);
    return out;
  }
  std::vector<std::string> Apply(const std::string& rules, int count, std::string_view page = "",
                                 std::function<bool(const CatalogItem&)> allowed = nullptr) {
    if (!allowed) allowed = [](const CatalogItem&) { return true; };
    return Ids(Merchandise(Rules(rules), page, Ranked(), count, catalog_, allowed));
  }
  CatalogSnapshot catalog_;
};

TEST_F(MerchandisingTest, ABoostLiftsTheMatchingItemsAndSaysSo) {
  // ×3 lifts I7 (0.55 → 1.65) and I8 (0.5 → 1.5) above everything.
  auto m = Rules(R"({"rules":[{"name":"sale","action":"boost","weight":2,"when":{"tag":"sale"}}]})");
  auto out = Merchandise(m, "", Ranked(), 4, catalog_, [](const CatalogItem&) { return true; });
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"I7", "I8", "I0", "I1"}));
  EXPECT_EQ(out[0].reason, "because (promoted: sale)");
  EXPECT_EQ(out[2].reason, "because");
  EXPECT_DOUBLE_EQ(out[0].score, 0.9 - 0.05 * 7);  // the model's estimate stays
}

TEST_F(MerchandisingTest, ABuryPushesItemsDownAndTheCountIsStillMet) {
  // Every brand X item (I0..I4) × 0.1: the Y items come first.
  EXPECT_EQ(Apply(R"({"rules":[{"action":"bury","weight":0.9,"when":{"brand":"X"}}]})", 6),
            (std::vector<std::string>{"I5", "I6", "I7", "I8", "I9", "I0"}));
}

TEST_F(MerchandisingTest, ConditionsOnPriceAndPropertiesAllMustHold) {
  // Boost the items of margin >= 0.6 and price <= 80: I6, I7, I8.
  EXPECT_EQ(Apply(R"({"rules":[{"action":"boost","weight":5,"when":{"property":"margin","property_min":0.6,
                       "price_max":80}}]})", 4),
            (std::vector<std::string>{"I6", "I7", "I8", "I0"}));
  EXPECT_EQ(Apply(R"({"rules":[{"action":"boost","weight":5,"when":{"property":"season","property_equals":"winter"}}]})", 2),
            (std::vector<std::string>{"I0", "I1"}));
}

TEST_F(MerchandisingTest, RulesForAPageApplyOnThatPageOnly) {
  const std::string rules = R"({"rules":[{"action":"boost","weight":9,"when":{"category":"B"},"pages":["home"]}]})";
  EXPECT_EQ(Apply(rules, 3, "home"), (std::vector<std::string>{"I1", "I3", "I5"}));
  EXPECT_EQ(Apply(rules, 3, "cart"), (std::vector<std::string>{"I0", "I1", "I2"}));
}

TEST_F(MerchandisingTest, APinnedItemTakesItsPositionWhenItMayBeShown) {
  const std::string rules = R"({"rules":[{"name":"hero","action":"pin","item_id":"I9","position":2,"pages":["home"]}]})";
  auto m = Rules(rules);
  auto out = Merchandise(m, "home", Ranked(), 4, catalog_, [](const CatalogItem&) { return true; });
  EXPECT_EQ(Ids(out), (std::vector<std::string>{"I0", "I9", "I1", "I2"}));
  EXPECT_EQ(out[1].reason, "Featured by the shop (hero)");
  // Not on another page; not when the request's filters or exclusions refuse it.
  EXPECT_EQ(Apply(rules, 4, "cart"), (std::vector<std::string>{"I0", "I1", "I2", "I3"}));
  EXPECT_EQ(Apply(rules, 4, "home", [](const CatalogItem& i) { return i.item_id != "I9"; }),
            (std::vector<std::string>{"I0", "I1", "I2", "I3"}));
  // An item not in the candidates is pinned too (it exists and may be shown).
  auto short_list = Ranked();
  short_list.resize(3);
  EXPECT_EQ(Ids(Merchandise(m, "home", short_list, 3, catalog_, [](const CatalogItem&) { return true; })),
            (std::vector<std::string>{"I0", "I9", "I1"}));
}

TEST_F(MerchandisingTest, DiversityCapsACategoryAndFillsWithTheRestOnlyWhenNothingElseIsLeft) {
  // At most 2 of a brand: X X Y Y, then the list runs out of new brands: filled in order.
  EXPECT_EQ(Apply(R"({"diversity":{"max_per_brand":2}})", 4), (std::vector<std::string>{"I0", "I1", "I5", "I6"}));
  EXPECT_EQ(Apply(R"({"diversity":{"max_per_brand":2}})", 6),
            (std::vector<std::string>{"I0", "I1", "I5", "I6", "I2", "I3"}));
  EXPECT_EQ(Apply(R"({"diversity":{"max_per_category":1}})", 3), (std::vector<std::string>{"I0", "I1", "I2"}));
}

TEST_F(MerchandisingTest, BadRulesAreRefusedNamingTheField) {
  auto field = [](const std::string& text) {
    auto m = ParseMerchandising(json::parse(text));
    EXPECT_FALSE(m.ok()) << text;
    const Status st = m.status();
    for (const auto& [k, v] : st.details()) {
      if (k == "field") return v;
    }
    return std::string();
  };
  EXPECT_EQ(field(R"({"rules":[{"action":"shout"}]})"), "settings.merchandising.rules[0].action");
  EXPECT_EQ(field(R"({"rules":[{"action":"boost","weight":0,"when":{"tag":"x"}}]})"),
            "settings.merchandising.rules[0].weight");
  EXPECT_EQ(field(R"({"rules":[{"action":"bury","weight":2,"when":{"tag":"x"}}]})"),
            "settings.merchandising.rules[0].weight");
  EXPECT_EQ(field(R"({"rules":[{"action":"boost","weight":1,"when":{}}]})"), "settings.merchandising.rules[0].when");
  EXPECT_EQ(field(R"({"rules":[{"action":"boost","weight":1,"when":{"colour":"red"}}]})"),
            "settings.merchandising.rules[0].when");
  EXPECT_EQ(field(R"({"rules":[{"action":"pin","position":3}]})"), "settings.merchandising.rules[0].item_id");
  EXPECT_EQ(field(R"({"rules":[{"action":"pin","item_id":"I1","position":0}]})"), "settings.merchandising.rules[0].position");
  EXPECT_EQ(field(R"({"diversity":{"max_per_colour":2}})"), "settings.merchandising.diversity");
  EXPECT_EQ(field(R"({"rules":{}})"), "settings.merchandising.rules");
  EXPECT_TRUE(ParseMerchandising(json::value(nullptr))->empty());
}

}  // namespace
}  // namespace embedrec::serving
