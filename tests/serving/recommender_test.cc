// The model's ranking under filters: a request for a category (or a few)
// answered by scoring that category's rows gives what the filtered search of
// the whole index gives, exactly.
#include "serving/recommender.h"

#include <random>
#include <string>
#include <vector>

#include "ml/model_file.h"
#include "tenant_fixture.h"

namespace embedrec::serving {
namespace {

constexpr int kDim = 16, kItems = 400;

class RecommenderTest : public TenantStoreTest {
 protected:
  // Items i0..i399: every tenth in category "small" (brand "S"), the rest
  // in "big" (brand "B"); a model of random embeddings over them that knows
  // none of the store's users, so their events are folded in.
  void SetUp() override {
    TenantStoreTest::SetUp();
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    for (int i = 0; i < kItems; ++i) {
      store::ItemRecord item;
      item.item_id = "i" + std::to_string(i);
      item.category = i % 10 == 0 ? "small" : "big";
      item.brand = i % 10 == 0 ? "S" : "B";
      ASSERT_OK((*batch)->UpsertItem(item, 1));
    }
    ASSERT_OK((*batch)->Commit());
    ml::ModelArtifact a;
    a.model_type = "bpr_mf";
    a.dim = kDim;
    a.n_users = 1;
    a.n_items = kItems;
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0, 1);
    a.user_emb.resize(kDim);
    a.item_emb.resize(kItems * kDim);
    for (auto& x : a.user_emb) x = g(rng);
    for (auto& x : a.item_emb) x = g(rng);
    a.user_ids = {"someone-else"};
    for (int i = 0; i < kItems; ++i) a.item_ids.push_back("i" + std::to_string(i));
    ann::IndexOptions options;
    auto index = ann::BuildItemIndex(a.item_emb.data(), kItems, kDim, options);
    ASSERT_OK(index);
    auto bytes = (*index)->Serialize();
    ASSERT_OK(bytes);
    auto m = LoadServingModel("v1.0_20261125", 0, ml::EncodeModel(a), *bytes, options);
    ASSERT_OK(m);
    models_.Set(id_, *m);
    recommender_ = std::make_unique<Recommender>(&models_, &catalog_, &activity_, stores_.get());
  }
  // `user` viewed these items (events the model has not seen).
  void Viewed(const std::string& user, const std::vector<int>& items) {
    auto batch = store_->BeginImport();
    auto u = (*batch)->EnsureUser(user, 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.type = "view";
    for (int i : items) {
      r.item_idx = Idx("i" + std::to_string(i));
      r.ts_ms = clock_.NowMillis() - 60000 + i;
      ASSERT_OK((*batch)->InsertInteraction(r));
    }
    ASSERT_OK((*batch)->Commit());
  }
  std::vector<std::string> Ranked(const std::string& user, const Filters& f, int count) {
    RecommendRequest r;
    r.tenant_id = id_;
    r.user_id = user;
    r.count = count;
    r.filters = f;
    auto got = recommender_->Recommend(r);
    EXPECT_TRUE(got.ok()) << got.status().message();
    std::vector<std::string> out;
    if (!got.ok()) return out;
    EXPECT_EQ(got->algorithm, "bpr_mf");
    for (const auto& rec : got->items) out.push_back(rec.item->item_id + "/" + rec.item->category);
    return out;
  }

  CatalogCache catalog_{&clock_};
  Activity activity_{&clock_, [](const std::string&) { return interactions::TypeWeights(); }};
  DeployedModels models_;
  std::unique_ptr<Recommender> recommender_;
};

TEST_F(RecommenderTest, ACategoryScoredAloneRanksAsTheFilteredSearchOfEveryItem) {
  // Visitors with views in both categories (a session blended in), and
  // the user the model knows, with nothing new (its trained vector alone).
  for (const auto& [user, views] : std::vector<std::pair<std::string, std::vector<int>>>{
           {"u1", {3, 10, 57}}, {"u2", {20, 30, 40, 41}}, {"u3", {7}}, {"someone-else", {}}}) {
    Viewed(user, views);
    Filters by_category, by_brand;  // the same 40 items: scored alone, or searched among all 400
    by_category.categories = {"small"};
    by_brand.brand = "S";
    for (int count : {5, 10, 35}) {
      const auto scored = Ranked(user, by_category, count);
      ASSERT_EQ(scored.size(), static_cast<size_t>(count)) << user;
      for (const auto& s : scored) EXPECT_TRUE(s.ends_with("/small")) << user << " " << s;
      EXPECT_EQ(scored, Ranked(user, by_brand, count)) << user << " count " << count;
    }
    // Two categories at once (more than a quarter of the items: searched).
    by_category.categories = {"small", "big"};
    Filters none;
    EXPECT_EQ(Ranked(user, by_category, 20), Ranked(user, none, 20)) << user;
  }
}

}  // namespace
}  // namespace embedrec::serving
