// The model's ranking under filters: a request for a category (or a few)
// answered by scoring that category's rows gives what the filtered search of
// the whole index gives, exactly.
#include "serving/recommender.h"

#include <algorithm>
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
    Deploy("{}");
    recommender_ = std::make_unique<Recommender>(&models_, &catalog_, &activity_, stores_.get());
  }
  // The model (random embeddings, the same every time) with this metadata
  // and a training history (the known user had i399).
  void Deploy(const std::string& metadata_json) {
    ml::ModelArtifact a;
    a.model_type = "bpr_mf";
    a.metadata_json = metadata_json;
    a.history_offsets = {0, 1};
    a.history_items = {kItems - 1};
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
    // The best refused by the request's filter (more than one round of the
    // scored rows' walk): the same answer as the search's.
    Filters refusing_category = by_category, refusing_brand = by_brand;
    for (const auto& s : Ranked(user, by_category, 25)) {
      const std::string id = s.substr(0, s.find('/'));
      refusing_category.exclude_item_ids.insert(id);
      refusing_brand.exclude_item_ids.insert(id);
    }
    const auto rest = Ranked(user, refusing_category, 12);
    ASSERT_EQ(rest.size(), 12u) << user;
    EXPECT_EQ(rest, Ranked(user, refusing_brand, 12)) << user;
    // Two categories at once (more than a quarter of the items: searched).
    by_category.categories = {"small", "big"};
    Filters none;
    EXPECT_EQ(Ranked(user, by_category, 20), Ranked(user, none, 20)) << user;
  }
}

TEST_F(RecommenderTest, SimilarItemsAreRankedByInnerProductTheirScoresInTheOrderShown) {
  // Ranked by cosine, a long (popular) item row lost to short ones pointing
  // the same way; ranked by inner product it comes first, as the model
  // scores a visitor who saw only the item.
  auto model = models_.Get(id_);
  ASSERT_NE(model, nullptr);
  const auto& items = model->model->item_embeddings();
  auto norm = [](const float* x) {
    double s = 0;
    for (int j = 0; j < kDim; ++j) s += static_cast<double>(x[j]) * x[j];
    return std::sqrt(s);
  };
  for (const char* anchor : {"i3", "i42", "i250"}) {
    const int64_t a = std::stoi(std::string(anchor).substr(1));
    std::vector<std::pair<double, int64_t>> truth;
    double longest = 0;
    for (int64_t j = 0; j < kItems; ++j) {
      longest = std::max(longest, norm(items.data() + j * kDim));
      if (j == a) continue;
      double ip = 0;
      for (int k = 0; k < kDim; ++k) ip += static_cast<double>(items[a * kDim + k]) * items[j * kDim + k];
      truth.emplace_back(-ip, j);
    }
    std::sort(truth.begin(), truth.end());
    auto got = recommender_->Similar(id_, anchor, 12, Filters());
    ASSERT_OK(got);
    ASSERT_EQ(got->items.size(), 12u);
    for (size_t r = 0; r < 12; ++r) {
      EXPECT_EQ(got->items[r].item->item_id, "i" + std::to_string(truth[r].second)) << anchor << " rank " << r;
      const double want = std::clamp(-truth[r].first / (norm(items.data() + a * kDim) * longest), 0.0, 1.0);
      EXPECT_NEAR(got->items[r].similarity, want, 1e-5) << anchor;
      if (r > 0) EXPECT_LE(got->items[r].similarity, got->items[r - 1].similarity);
    }
  }
}

TEST_F(RecommenderTest, TheCategorysBestsellersTakeTheSimilarItemsShareTheModelFileNames) {
  // Random embeddings: the model's similar items of i10 ("small") are
  // mostly "big". The category's bestsellers are the "small" items viewed.
  Viewed("buyer", {20, 30, 40, 50, 60, 70});
  for (const auto& [metadata, small_at_least] :
       std::vector<std::pair<std::string, int>>{{"{}", 0}, {R"({"similar_category_share":0.5})", 3},
                                                {R"({"similar_category_share":1})", 6}}) {
    Deploy(metadata);
    auto got = recommender_->Similar(id_, "i10", 6, Filters());
    ASSERT_OK(got);
    ASSERT_EQ(got->items.size(), 6u) << metadata;
    int small = 0;
    for (size_t r = 0; r < got->items.size(); ++r) {
      small += got->items[r].item->category == "small";
      EXPECT_NE(got->items[r].item->item_id, "i10");
      if (r > 0) EXPECT_LE(got->items[r].similarity, got->items[r - 1].similarity) << metadata;
    }
    EXPECT_GE(small, small_at_least) << metadata;
    if (small_at_least == 0) EXPECT_LE(small, 3) << metadata;  // the model's own list: a tenth are "small"
  }
}

TEST_F(RecommenderTest, TheRerankerCountsTheNewestEventsItsModelFileWasFittedOn) {
  // A reranker that orders by the share of the user's newest events in the
  // item's category alone. The visitor's newest view is in "small", the two
  // before it in "big": over the newest one, "small" leads; over the newest
  // three, "big" does. The window is the model file's, not the build's.
  Viewed("v", {21, 22, 30});
  auto reranked_by = [&](int window) {
    Deploy(R"({"reranker":{"features":["recent_category_share"],"mean":[0],"scale":[1],"weight":[10],)"
           R"("bias":0,"recent_events":)" + std::to_string(window) + "}}");
    return Ranked("v", Filters(), 5);
  };
  for (const auto& s : reranked_by(1)) EXPECT_TRUE(s.ends_with("/small")) << s;
  for (const auto& s : reranked_by(3)) EXPECT_TRUE(s.ends_with("/big")) << s;
}

TEST_F(RecommenderTest, AVisitorIsSteeredByTheCategoryOfTheirViews) {
  // Random embeddings: nothing in the model ties "small" items together (a
  // tenth of the catalog). A visitor who viewed five of them is shopping
  // for one: nearly all of what they are shown comes from that category.
  Viewed("visitor", {10, 50, 120, 230, 370});
  int small = 0;
  const auto got = Ranked("visitor", Filters(), 10);
  ASSERT_EQ(got.size(), 10u);
  for (const auto& s : got) small += s.ends_with("/small");
  // 8 with the known user's factor (kSessionCategoryBoost), 1 without any.
  EXPECT_GE(small, 9) << ::testing::PrintToString(got);
}

TEST_F(RecommenderTest, AKnownUsersNewViewsOfACategoryBringItIntoTheirList) {
  // The user the model knows (random embeddings: nothing ties "small" items
  // together), with nothing new: few "small" items. Then five views of
  // "small" items it has not seen: the session's neighbours, its category's
  // best and the category's lift steer the list as they do a visitor's
  // (the trained vector holds it back a little: kSessionCategoryBoost).
  auto small_in = [](const std::vector<std::string>& got) {
    int n = 0;
    for (const auto& s : got) n += s.ends_with("/small");
    return n;
  };
  const auto before = Ranked("someone-else", Filters(), 10);
  ASSERT_EQ(before.size(), 10u);
  EXPECT_LE(small_in(before), 3) << ::testing::PrintToString(before);
  Viewed("someone-else", {10, 50, 120, 230, 370});
  activity_.DataChanged(id_);  // as an upload tells it
  const auto after = Ranked("someone-else", Filters(), 10);
  ASSERT_EQ(after.size(), 10u);
  EXPECT_GE(small_in(after), 6) << ::testing::PrintToString(after);
  for (const auto& s : after) EXPECT_EQ(std::count(after.begin(), after.end(), s), 1) << s;
}

}  // namespace
}  // namespace embedrec::serving
