// The service in front of the ranking: the result cache (valid for the same
// model version, profile and catalog, within its TTL), one recommendation_id
// per answer, and every answer in the recommendation log.
#include "serving/recommendation_service.h"

#include <mutex>
#include <thread>

#include "common/id_source.h"
#include "tenant_fixture.h"

namespace embedrec::serving {
namespace {

class RecommendationServiceTest : public TenantStoreTest {
 protected:
  void SetUp() override {
    TenantStoreTest::SetUp();
    AddItems({"A", "B", "C", "D"}, "c");
    auto batch = store_->BeginImport();
    auto u = (*batch)->EnsureUser("u1", 1);
    store::InteractionRecord r;
    r.user_idx = *u;
    r.type = "view";
    r.ts_ms = clock_.NowMillis() - 3600000;
    for (const char* id : {"B", "C"}) {
      r.item_idx = Idx(id);
      ASSERT_OK((*batch)->InsertInteraction(r));
    }
    ASSERT_OK((*batch)->Commit());
    log_ = store::NewSqliteRecommendationLog(dir_.path(), &clock_);
    recommender_ = std::make_unique<Recommender>(&models_, &catalog_, &activity_, stores_.get());
    service_ = std::make_unique<RecommendationService>(recommender_.get(), log_.get(), &clock_, &ids_, &metrics_);
  }
  RecommendRequest Request(const std::string& user) {
    RecommendRequest r;
    r.tenant_id = id_;
    r.user_id = user;
    r.count = 3;
    r.context = {{"page", "home"}};
    return r;
  }
  std::vector<std::string> Ids(const Served& s) {
    std::vector<std::string> out;
    for (const auto& r : s.result.items) out.push_back(r.item->item_id);
    return out;
  }

  CatalogCache catalog_{&clock_};
  Activity activity_{&clock_, [](const std::string&) { return interactions::TypeWeights(); }};
  DeployedModels models_;
  std::unique_ptr<Recommender> recommender_;
  SequentialIds ids_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::RecommendationLog> log_;
  std::unique_ptr<RecommendationService> service_;
};

TEST_F(RecommendationServiceTest, EachAnswerHasItsOwnIdAndIsLoggedWithWhatWasShown) {
  auto a = service_->Recommend(Request("u1"), {});
  ASSERT_OK(a);
  auto b = service_->Recommend(Request("u1"), {});
  ASSERT_OK(b);
  // "rec_", the time (7 base62 digits), then the id source's characters.
  EXPECT_EQ(a->recommendation_id.substr(0, 4), "rec_");
  EXPECT_EQ(a->recommendation_id.size(), 4u + 7 + 6);
  EXPECT_EQ(a->recommendation_id.substr(11), "000001");
  EXPECT_EQ(b->recommendation_id.substr(11), "000002");
  EXPECT_EQ(a->recommendation_id.substr(0, 11), b->recommendation_id.substr(0, 11));  // the same ms
  clock_.AdvanceMillis(1);
  auto c = service_->Recommend(Request("u1"), {});
  ASSERT_OK(c);
  EXPECT_LT(b->recommendation_id, c->recommendation_id);  // later answers sort after
  ASSERT_EQ(a->result.items.size(), 3u);
  auto logged = log_->Find(id_, a->recommendation_id);
  ASSERT_OK(logged);
  ASSERT_TRUE(logged->has_value());
  const auto& rec = **logged;
  EXPECT_EQ(rec.user_id, "u1");
  EXPECT_EQ(rec.endpoint, "recommendations");
  EXPECT_EQ(rec.algorithm, a->result.algorithm);
  EXPECT_EQ(rec.context_json, R"({"page":"home"})");
  EXPECT_EQ(rec.ts_ms, clock_.NowMillis() - 1);  // before the clock moved for `c`
  ASSERT_EQ(rec.items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rec.items[i].item_id, a->result.items[i].item->item_id);
    EXPECT_DOUBLE_EQ(rec.items[i].score, a->result.items[i].score);
  }
}

TEST_F(RecommendationServiceTest, TheCacheAnswersUntilTheProfileOrTheCatalogChangesOrItExpires) {
  const CachePolicy cache{60, "{}"};
  auto first = service_->Recommend(Request("u1"), cache);
  ASSERT_OK(first);
  EXPECT_FALSE(first->cached);
  auto second = service_->Recommend(Request("u1"), cache);
  ASSERT_OK(second);
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(Ids(*second), Ids(*first));
  EXPECT_NE(second->recommendation_id, first->recommendation_id);
  auto logged = log_->Find(id_, second->recommendation_id);
  ASSERT_OK(logged);
  ASSERT_TRUE(logged->has_value());
  EXPECT_TRUE((*logged)->cached);

  // Another request key, or another user: not this entry.
  auto other = service_->Recommend(Request("u1"), {60, R"({"count":3})"});
  ASSERT_OK(other);
  EXPECT_FALSE(other->cached);

  // The user does something: the profile changed.
  store::TrackEvent ev;
  ev.user_id = "u1";
  ev.item_id = "A";
  ev.type = "purchase";
  ev.ts_ms = clock_.NowMillis();
  ASSERT_OK(activity_.Profile(id_, *store_, "u1"));
  activity_.Record(id_, ev, "c", {});
  auto after_event = service_->Recommend(Request("u1"), cache);
  ASSERT_OK(after_event);
  EXPECT_FALSE(after_event->cached);
  for (const auto& id : Ids(*after_event)) EXPECT_NE(id, "A");  // a purchase is not recommended again
  ASSERT_TRUE(service_->Recommend(Request("u1"), cache)->cached);

  // The catalog is read again (an upload): a new generation.
  catalog_.Invalidate(id_);
  auto after_catalog = service_->Recommend(Request("u1"), cache);
  ASSERT_OK(after_catalog);
  // A re-read that finds the same items keeps the generation (catalog.h):
  // then the entry is still valid.
  ASSERT_TRUE(service_->Recommend(Request("u1"), cache)->cached);

  // The TTL passes.
  clock_.AdvanceSeconds(61);
  auto expired = service_->Recommend(Request("u1"), cache);
  ASSERT_OK(expired);
  EXPECT_FALSE(expired->cached);
}

TEST_F(RecommendationServiceTest, AHitReusesTheTextRenderedForItsAnswer) {
  int renders = 0;
  Renderer render = [&](const RecommendResult& res) {
    ++renders;
    std::string text;
    for (const auto& r : res.items) text += r.item->item_id + ";";
    return text;
  };
  auto first = service_->Recommend(Request("u1"), {60, "{}"}, render);
  ASSERT_OK(first);
  ASSERT_TRUE(first->rendered);
  auto second = service_->Recommend(Request("u1"), {60, "{}"}, render);
  ASSERT_OK(second);
  EXPECT_TRUE(second->cached);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(*second->rendered, *first->rendered);
  EXPECT_EQ(second->result.model_version, first->result.model_version);
  // The hit is logged with the items it showed.
  auto logged = log_->Find(id_, second->recommendation_id);
  ASSERT_OK(logged);
  ASSERT_TRUE(logged->has_value());
  std::string shown;
  for (const auto& i : (*logged)->items) shown += i.item_id + ";";
  EXPECT_EQ(shown, *first->rendered);
}

TEST_F(RecommendationServiceTest, WithoutATtlNothingIsCached) {
  ASSERT_OK(service_->Recommend(Request("u1"), {}));
  auto again = service_->Recommend(Request("u1"), {0, "{}"});
  ASSERT_OK(again);
  EXPECT_FALSE(again->cached);
}

TEST_F(RecommendationServiceTest, AVersionThatIsNotLiveIsRefused) {
  auto r = Request("u1");
  r.model_version = "v9.0_20261201";
  auto s = service_->Recommend(r, {});
  EXPECT_EQ(s.status().code(), StatusCode::kUnprocessable);
}

TEST_F(RecommendationServiceTest, AColdTenantsModelsAreReadAsideOnceAndAKnownTenantsNot) {
  std::mutex mu;
  int reads = 0;
  models_.SetLoader(
      [&](const std::string&) -> StatusOr<DeployedModels::Loaded> {
        std::lock_guard lock(mu);
        ++reads;
        return DeployedModels::Loaded{};  // none deployed: popularity answers
      },
      /*budget_bytes=*/0);
  std::vector<std::thread> lane;
  recommender_->SetBackground([&](const std::string& tenant, std::function<void()> task) {
    EXPECT_EQ(tenant, id_);
    lane.emplace_back(std::move(task));
  });
  auto first = service_->Recommend(Request("u1"), {});
  ASSERT_OK(first);
  EXPECT_FALSE(first->result.items.empty());
  for (auto& t : lane) t.join();
  EXPECT_EQ(lane.size(), 1u);
  EXPECT_EQ(reads, 1);  // the request joined the read aside (or made it first): once
  // Known now (no models): nothing is read aside again.
  ASSERT_OK(service_->Recommend(Request("u1"), {}));
  EXPECT_EQ(lane.size(), 1u);
  EXPECT_EQ(reads, 1);
}

}  // namespace
}  // namespace embedrec::serving
