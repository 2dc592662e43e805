#include "datagen/shop_generator.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/time_format.h"
#include "common/csv.h"
#include "test_util.h"

namespace embedrec::datagen {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  CsvParser p({}, [&](const CsvRecord& r) {
    EXPECT_TRUE(r.error.empty()) << "record " << r.record << ": " << r.error;
    rows.emplace_back(r.fields.begin(), r.fields.end());
    return Status::Ok();
  });
  EXPECT_TRUE(p.Feed(text).ok());
  EXPECT_TRUE(p.Finish().ok());
  return rows;
}

ShopOptions Small() {
  ShopOptions o;
  o.items = 500;
  o.users = 300;
  o.interactions = 20000;
  o.categories = 8;
  return o;
}

TEST(ShopGeneratorTest, SameSeedSameFilesOtherSeedOtherFiles) {
  testing::TempDir a, b, c;
  ASSERT_OK(GenerateShop(Small(), a.path()));
  ASSERT_OK(GenerateShop(Small(), b.path()));
  ShopOptions other = Small();
  other.seed = 43;
  ASSERT_OK(GenerateShop(other, c.path()));
  EXPECT_EQ(Slurp(a.Sub("interactions.csv")), Slurp(b.Sub("interactions.csv")));
  EXPECT_EQ(Slurp(a.Sub("items.csv")), Slurp(b.Sub("items.csv")));
  EXPECT_NE(Slurp(a.Sub("interactions.csv")), Slurp(c.Sub("interactions.csv")));
}

TEST(ShopGeneratorTest, WritesParseableCsvsWithConsistentIdsAndAFunnel) {
  testing::TempDir dir;
  auto stats = GenerateShop(Small(), dir.path());
  ASSERT_OK(stats);
  auto items = ParseCsv(Slurp(dir.Sub("items.csv")));
  auto inter = ParseCsv(Slurp(dir.Sub("interactions.csv")));
  ASSERT_EQ(items.size(), 501u);
  ASSERT_EQ(items[0][0], "item_id");
  ASSERT_EQ(inter[0], (std::vector<std::string>{"user_id", "item_id", "interaction_type",
                                                "timestamp", "rating", "duration_seconds"}));
  EXPECT_EQ(int64_t(inter.size() - 1), stats->interactions);
  EXPECT_EQ(stats->interactions, 20000);

  std::set<std::string> ids;
  for (size_t i = 1; i < items.size(); ++i) {
    ASSERT_EQ(items[i].size(), 9u);
    EXPECT_GE(std::stod(items[i][3]), 0.99);
    ids.insert(items[i][0]);
  }
  std::map<std::string, int64_t> types, item_views;
  for (size_t i = 1; i < inter.size(); ++i) {
    ASSERT_EQ(inter[i].size(), 6u);
    EXPECT_TRUE(ids.count(inter[i][1])) << inter[i][1];
    EXPECT_TRUE(ParseRfc3339Millis(inter[i][3]).has_value()) << inter[i][3];
    ++types[inter[i][2]];
    if (inter[i][2] == "view") ++item_views[inter[i][1]];
  }
  EXPECT_GT(types["view"], types["add_to_cart"]);
  EXPECT_GT(types["add_to_cart"], types["purchase"]);
  EXPECT_GT(types["purchase"], 0);
  // Power law: the most viewed 10% of items draw far more than 10% of views.
  std::vector<int64_t> counts;
  for (auto& [id, n] : item_views) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  int64_t top = 0;
  for (size_t i = 0; i < counts.size() / 10; ++i) top += counts[i];
  EXPECT_GT(double(top) / double(types["view"]), 0.3);
}

TEST(ShopGeneratorTest, RejectsNonsenseSizes) {
  testing::TempDir dir;
  ShopOptions o = Small();
  o.items = 0;
  EXPECT_EQ(GenerateShop(o, dir.path()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace embedrec::datagen
