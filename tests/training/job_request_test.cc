#include "training/job_request.h"
#include "training/auto_search.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace embedrec::training {
namespace {
namespace json = boost::json;

StatusOr<JobRequest> Parse(const std::string& body, const std::string& settings = "{}") {
  return ParseJobRequest(json::parse(body).as_object(), settings);
}

std::string Detail(const Status& s, const std::string& key) {
  for (const auto& [k, v] : s.details()) {
    if (k == key) return v;
  }
  return "";
}

TEST(JobRequestTest, DefaultsAreTheSeedsAndTheTenantsSettingsOverrideThem) {
  auto r = Parse("{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->model_type, std::nullopt);  // a tenant that sets nothing gets the search
  EXPECT_TRUE(r->given.empty());
  r = Parse(R"({"model_type":"lightgcn"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mode, "full");
  EXPECT_TRUE(r->auto_deploy);
  EXPECT_EQ(r->options.embedding_dim, 64);
  EXPECT_EQ(r->options.num_layers, 3);
  EXPECT_DOUBLE_EQ(r->options.learning_rate, 0.001);
  EXPECT_EQ(r->options.batch_size, 0);  // scaled to the data when the fit knows it
  EXPECT_FALSE(HyperparametersJson(*r).contains("batch_size"));
  JobRequest resolved = *r;
  ResolveBatchSize(&resolved, 1'200'000);  // lightgcn: ~32 steps per epoch, and named in the record
  EXPECT_EQ(resolved.options.batch_size, 37'632);
  EXPECT_EQ(HyperparametersJson(resolved).at("batch_size").as_int64(), 37'632);
  // Fewer, larger steps: the learning rate not given grows with the batch, up to our recipe's 0.01.
  EXPECT_DOUBLE_EQ(resolved.options.learning_rate, 0.01);
  EXPECT_DOUBLE_EQ(HyperparametersJson(resolved).at("learning_rate").as_double(), 0.01);
  resolved = *r;
  ResolveBatchSize(&resolved, 300'000);  // batch 9,472: 4.625 times the reference's
  EXPECT_EQ(resolved.options.batch_size, 9472);
  EXPECT_DOUBLE_EQ(resolved.options.learning_rate, 0.001 * 9472 / 2048);
  resolved = *r;
  ResolveBatchSize(&resolved, 10'000);  // small data: the reference's batch and rate
  EXPECT_EQ(resolved.options.batch_size, 2048);
  EXPECT_DOUBLE_EQ(resolved.options.learning_rate, 0.001);
  for (const char* body : {R"({"hyperparameters":{"learning_rate":0.002}})",    // a given rate is kept
                           R"({"hyperparameters":{"batch_size":4096}})"}) {     // so is the rate of a given batch
    auto given = Parse(body);
    ASSERT_TRUE(given.ok());
    const double lr = given->options.learning_rate;
    ResolveBatchSize(&*given, 1'200'000);
    EXPECT_DOUBLE_EQ(given->options.learning_rate, lr) << body;
  }
  auto recipe = Parse(R"({"hyperparameters":{"epochs":3}})");  // a rate set above the scaled one is not lowered
  recipe->options.learning_rate = 0.02;
  ResolveBatchSize(&*recipe, 1'200'000);
  EXPECT_DOUBLE_EQ(recipe->options.learning_rate, 0.02);
  EXPECT_EQ(r->options.epochs, 100);
  EXPECT_DOUBLE_EQ(r->validation_split, 0.2);
  r = Parse(R"({"hyperparameters":{"epochs":7}})",
            R"({"recommendation_model":"bpr_mf","training":{"epochs":30,"embedding_dim":32},
                "interaction_types":{"wishlist":{"weight":2.5},"view":0.5},"deploy_tolerance":0.2,
                "exclude_from_recommendations":"all_interacted"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model_type, ml::ModelType::kBprMf);
  EXPECT_EQ(r->options.epochs, 7);          // the request wins
  EXPECT_EQ(r->options.embedding_dim, 32);  // then the tenant's settings
  EXPECT_EQ(r->options.num_layers, 0);      // bpr_mf has no layers
  EXPECT_EQ(r->given, (std::set<std::string>{"embedding_dim", "epochs"}));
  EXPECT_FLOAT_EQ(r->interaction_weights.at("wishlist"), 2.5f);
  EXPECT_FLOAT_EQ(r->interaction_weights.at("view"), 0.5f);
  EXPECT_DOUBLE_EQ(r->deploy_tolerance, 0.2);
  EXPECT_EQ(r->exclusion, serving::Exclusion::kAllInteracted);  // what validation masks, as serving will
  EXPECT_EQ(Parse("{}")->exclusion, serving::Exclusion::kAuto);
}

TEST(JobRequestTest, GradientTrainedJobsHaveADefaultTimeBudgetOnlyWithoutEpochs) {
  auto r = Parse(R"({"model_type":"lightgcn"})");
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->time_budget_seconds, JobRequest::kDefaultTrainingBudgetSeconds);
  EXPECT_DOUBLE_EQ(Parse(R"({"model_type":"bpr_mf"})")->time_budget_seconds, 1800);
  // Epochs given (by the request or the tenant): trained as asked, no budget.
  EXPECT_DOUBLE_EQ(Parse(R"({"model_type":"lightgcn","hyperparameters":{"epochs":300}})")->time_budget_seconds, 0);
  EXPECT_DOUBLE_EQ(Parse(R"({"model_type":"lightgcn"})", R"({"training":{"epochs":300}})")->time_budget_seconds, 0);
  // A budget given is kept, with or without epochs.
  EXPECT_DOUBLE_EQ(
      Parse(R"({"model_type":"lightgcn","time_budget_seconds":60,"hyperparameters":{"epochs":300}})")->time_budget_seconds,
      60);
  // Not for the other types; auto's budget is decided at submission, and its trials carry none.
  EXPECT_DOUBLE_EQ(Parse(R"({"model_type":"als"})")->time_budget_seconds, 0);
  auto a = Parse(R"({"model_type":"auto"})");
  EXPECT_DOUBLE_EQ(a->time_budget_seconds, 0);
  EXPECT_DOUBLE_EQ(RequestForType(*a, ml::ModelType::kLightGcn).time_budget_seconds, 0);
  // Round trip: the record gives the same request back.
  auto back = ParseJobRequest(RequestJson(*r), "{}");
  ASSERT_TRUE(back.ok());
  EXPECT_DOUBLE_EQ(back->time_budget_seconds, 1800);
  EXPECT_EQ(back->options.epochs, 100);
}

TEST(JobRequestTest, ModelSpecificAndIncrementalDefaults) {
  auto als = Parse(R"({"model_type":"als"})");
  ASSERT_TRUE(als.ok());
  EXPECT_EQ(als->options.epochs, 15);
  EXPECT_DOUBLE_EQ(als->options.reg, 0.1);
  EXPECT_FALSE(HyperparametersJson(*als).contains("learning_rate"));
  EXPECT_TRUE(HyperparametersJson(*als).contains("alpha"));
  // item_knn's decay: from the data unless given (by the request or the tenant).
  auto knn = Parse(R"({"model_type":"item_knn"})");
  ASSERT_TRUE(knn.ok());
  EXPECT_DOUBLE_EQ(knn->options.half_life_days, 0);
  EXPECT_FALSE(HyperparametersJson(*knn).contains("half_life_days"));
  knn = Parse(R"({"model_type":"item_knn","hyperparameters":{"half_life_days":7}})");
  ASSERT_TRUE(knn.ok());
  EXPECT_DOUBLE_EQ(knn->options.half_life_days, 7);
  knn = Parse(R"({"model_type":"item_knn"})", R"({"training":{"half_life_days":90}})");
  ASSERT_TRUE(knn.ok());
  EXPECT_DOUBLE_EQ(knn->options.half_life_days, 90);
  auto pop = Parse(R"({"model_type":"popularity"})");
  ASSERT_TRUE(pop.ok());
  EXPECT_DOUBLE_EQ(pop->options.half_life_days, 30);
  // Made concrete by the job's data, and then named in the record; a blend's parts too.
  std::vector<ml::Interaction> events;
  for (int32_t u = 0; u < 3; ++u) events.push_back({u, u, 1.0f, 1'000'000'000 + u * 200LL * 86400});
  const ml::Dataset data = ml::MakeDataset(events, {});
  knn = Parse(R"({"model_type":"item_knn"})");
  ASSERT_TRUE(knn.ok());
  ResolveHalfLife(&*knn, data);
  EXPECT_DOUBLE_EQ(knn->options.half_life_days, 200);  // the median user: 200 days before the newest
  EXPECT_DOUBLE_EQ(HyperparametersJson(*knn).at("half_life_days").to_number<double>(), 200);
  auto blend = Parse(R"({"model_type":"blend","hyperparameters":{"blend":[
      {"model_type":"item_knn","weight":1},{"model_type":"item_knn","weight":1,"hyperparameters":{"half_life_days":9}}]}})");
  ASSERT_TRUE(blend.ok()) << blend.status().ToString();
  ResolveHalfLife(&*blend, data);
  EXPECT_DOUBLE_EQ(blend->blend_parts[0].options.half_life_days, 200);
  EXPECT_DOUBLE_EQ(blend->blend_parts[1].options.half_life_days, 9);
  EXPECT_DOUBLE_EQ(blend->options.blend->parts[0].options.half_life_days, 200);
  ResolveHalfLife(&*pop, data);
  EXPECT_DOUBLE_EQ(pop->options.half_life_days, 30);
  auto inc = Parse(R"({"training_mode":"incremental"})");
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->options.epochs, 10);
  EXPECT_DOUBLE_EQ(inc->options.learning_rate, 0.0001);
  inc = Parse(R"({"training_mode":"incremental","hyperparameters":{"epochs":40,"learning_rate":0.01}})");
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->options.epochs, 40);
  EXPECT_DOUBLE_EQ(inc->options.learning_rate, 0.01);
}

TEST(JobRequestTest, SoftmaxNegativesChooseTheLossAndItsL2) {
  auto bpr = Parse(R"({"model_type":"lightgcn"})");
  ASSERT_TRUE(bpr.ok());
  EXPECT_EQ(bpr->options.loss, ml::TrainOptions::Loss::kBpr);
  EXPECT_DOUBLE_EQ(bpr->options.reg, 1e-4);
  EXPECT_EQ(HyperparametersJson(*bpr).at("softmax_negatives").to_number<int>(), 0);
  auto sm = Parse(R"({"model_type":"lightgcn","hyperparameters":{"softmax_negatives":1024,"temperature":0.5}})");
  ASSERT_TRUE(sm.ok()) << sm.status().ToString();
  EXPECT_EQ(sm->options.loss, ml::TrainOptions::Loss::kSoftmax);
  EXPECT_EQ(sm->options.softmax_negatives, 1024);
  EXPECT_DOUBLE_EQ(sm->options.temperature, 0.5);
  EXPECT_DOUBLE_EQ(sm->options.reg, kSoftmaxReg);  // not given: the softmax's own
  EXPECT_TRUE(sm->options.Validate().ok());
  // Given, it is kept; and the record parses back to the same loss.
  sm = Parse(R"({"model_type":"bpr_mf","hyperparameters":{"softmax_negatives":64,"reg":0.001}})");
  ASSERT_TRUE(sm.ok());
  EXPECT_DOUBLE_EQ(sm->options.reg, 0.001);
  auto back = ParseJobRequest(RequestJson(*sm), "{}");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->options.loss, ml::TrainOptions::Loss::kSoftmax);
  EXPECT_EQ(back->options.softmax_negatives, 64);
  // A tenant's default applies like any other; out of range is refused.
  auto tenant = Parse(R"({"model_type":"lightgcn"})", R"({"training":{"softmax_negatives":256}})");
  ASSERT_TRUE(tenant.ok());
  EXPECT_EQ(tenant->options.loss, ml::TrainOptions::Loss::kSoftmax);
  EXPECT_EQ(Detail(Parse(R"({"hyperparameters":{"softmax_negatives":70000}})").status(), "field"),
            "hyperparameters.softmax_negatives");
  EXPECT_EQ(Detail(Parse(R"({"hyperparameters":{"temperature":0}})").status(), "field"),
            "hyperparameters.temperature");
  // Not a hyperparameter of the other types, nor does it move their L2.
  auto als = Parse(R"({"model_type":"als","hyperparameters":{"softmax_negatives":64}})");
  ASSERT_TRUE(als.ok());
  EXPECT_FALSE(HyperparametersJson(*als).contains("softmax_negatives"));
  EXPECT_DOUBLE_EQ(als->options.reg, 0.1);
}

TEST(JobRequestTest, OutOfRangeValuesNameTheFieldAndTheRange) {
  auto r = Parse(R"({"hyperparameters":{"learning_rate":0}})");
  ASSERT_EQ(r.status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(Detail(r.status(), "field"), "hyperparameters.learning_rate");
  EXPECT_EQ(Detail(r.status(), "min"), "0");
  EXPECT_EQ(Detail(r.status(), "max"), "1");
  EXPECT_EQ(Detail(r.status(), "min_exclusive"), "true");
  EXPECT_NE(r.status().message().find("(0, 1]"), std::string::npos) << r.status().message();
  r = Parse(R"({"hyperparameters":{"batch_size":64.5}})");
  EXPECT_EQ(Detail(r.status(), "field"), "hyperparameters.batch_size");
  r = Parse(R"({"hyperparameters":{"epochs":1e9}})");
  EXPECT_EQ(r.status().code(), StatusCode::kUnprocessable);
  r = Parse(R"({"hyperparameters":{"epochs":"5"}})");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = Parse(R"({"hyperparameters":{"lr":0.1}})");
  EXPECT_EQ(r.status().code(), StatusCode::kUnprocessable);
  EXPECT_NE(r.status().message().find("learning_rate"), std::string::npos);  // lists the known ones
  // A bad tenant default names the setting.
  r = Parse("{}", R"({"training":{"num_layers":99}})");
  EXPECT_EQ(Detail(r.status(), "field"), "settings.training.num_layers");
  r = Parse(R"({"deploy_tolerance":2})");
  EXPECT_EQ(Detail(r.status(), "field"), "deploy_tolerance");
  r = Parse(R"({"interaction_weights":{"view":-1}})");
  EXPECT_EQ(Detail(r.status(), "field"), "interaction_weights.view");
}

TEST(JobRequestTest, TheAppliedRequestParsesBackToTheSameRequest) {
  auto r = Parse(R"({"model_type":"lightgcn","training_mode":"incremental","auto_deploy":false,
                     "hyperparameters":{"epochs":3,"negative_samples":4,"seed":12345678901},
                     "interaction_weights":{"purchase":7}})",
                 R"({"training":{"embedding_dim":48}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string once = json::serialize(RequestJson(*r));
  auto back = ParseJobRequest(json::parse(once).as_object(), "{}");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << " " << once;
  EXPECT_EQ(json::serialize(RequestJson(*back)), once);
  EXPECT_EQ(back->options.embedding_dim, 48);
  EXPECT_EQ(back->options.seed, 12345678901u);
  EXPECT_DOUBLE_EQ(back->options.learning_rate, r->options.learning_rate);
}

TEST(JobRequestTest, ABlendNamesItsPartsEachReadAsItsOwnRequest) {
  auto r = Parse(R"({"model_type":"blend","hyperparameters":{"seed":7,"validation_split":0.1,"blend":[
      {"model_type":"ease","weight":0.3,"hyperparameters":{"lambda":250}},
      {"model_type":"lightgcn","weight":0.7,"hyperparameters":{"embedding_dim":32,"softmax_negatives":128,
                                                              "learning_rate":0.01,"epochs":20}}]}})",
                 R"({"training":{"reg":2}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->model_type, ml::ModelType::kBlend);
  ASSERT_EQ(r->blend_parts.size(), 2u);
  const JobRequest& ease = r->blend_parts[0];
  const JobRequest& lgcn = r->blend_parts[1];
  EXPECT_EQ(ease.model_type, ml::ModelType::kEase);
  EXPECT_DOUBLE_EQ(ease.options.lambda, 250);
  EXPECT_EQ(ease.options.embedding_dim, 128);  // the type's own default
  EXPECT_EQ(lgcn.options.loss, ml::TrainOptions::Loss::kSoftmax);
  EXPECT_EQ(lgcn.options.epochs, 20);
  EXPECT_DOUBLE_EQ(lgcn.options.reg, 2);  // the tenant's setting, as a lightgcn request would read it
  EXPECT_EQ(lgcn.options.seed, 7u);       // the blend's, inherited
  EXPECT_DOUBLE_EQ(r->validation_split, 0.1);
  ASSERT_TRUE(r->options.blend);
  ASSERT_EQ(r->options.blend->parts.size(), 2u);
  EXPECT_DOUBLE_EQ(r->options.blend->parts[1].weight, 0.7);
  EXPECT_EQ(r->options.embedding_dim, 128 + 32);
  // The batch is resolved part by part, as the job does for a single model.
  JobRequest resolved = *r;
  ResolveBatchSize(&resolved, 1'200'000);
  EXPECT_GT(resolved.blend_parts[1].options.batch_size, 0);
  EXPECT_EQ(resolved.options.blend->parts[1].options.batch_size, resolved.blend_parts[1].options.batch_size);
  // The record lists the parts and parses back to the same request.
  const std::string once = json::serialize(RequestJson(resolved));
  auto back = ParseJobRequest(json::parse(once).as_object(), "{}");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << " " << once;
  EXPECT_EQ(json::serialize(RequestJson(*back)), once);
  const json::object hyper = HyperparametersJson(resolved);
  EXPECT_FALSE(hyper.contains("embedding_dim"));  // the parts' own
  EXPECT_EQ(hyper.at("blend").as_array().size(), 2u);
}

TEST(JobRequestTest, ABlendThatCannotBeTrainedIsRefusedNamingTheField) {
  const std::string two = R"([{"model_type":"ease","weight":1},{"model_type":"als","weight":1}])";
  const std::pair<std::string, std::string> cases[] = {
      {R"({"model_type":"blend"})", "hyperparameters.blend"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":1}]}})",
       "hyperparameters.blend"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":1},
          {"model_type":"popularity","weight":1}]}})", "hyperparameters.blend[1].model_type"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":0},
          {"model_type":"als","weight":1}]}})", "hyperparameters.blend[0].weight"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease"},
          {"model_type":"als","weight":1}]}})", "hyperparameters.blend[0].weight"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":1,"color":2},
          {"model_type":"als","weight":1}]}})", "hyperparameters.blend[0].color"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":1},
          {"model_type":"als","weight":1,"hyperparameters":{"reg":-1}}]}})",
       "hyperparameters.blend[1].hyperparameters.reg"},
      {R"({"model_type":"blend","hyperparameters":{"blend":[{"model_type":"ease","weight":1},
          {"model_type":"als","weight":1,"hyperparameters":{"validation_split":0.1}}]}})",
       "hyperparameters.blend[1].hyperparameters.validation_split"},
      {R"({"model_type":"blend","hyperparameters":{"embedding_dim":32,"blend":)" + two + "}}",
       "hyperparameters.embedding_dim"},
      {R"({"model_type":"blend","training_mode":"incremental","hyperparameters":{"blend":)" + two + "}}",
       "training_mode"},
      {R"({"model_type":"blend","time_budget_seconds":60,"hyperparameters":{"blend":)" + two + "}}",
       "time_budget_seconds"},
      {R"({"model_type":"als","hyperparameters":{"blend":)" + two + "}}", "hyperparameters.blend"},
  };
  for (const auto& [body, field] : cases) {
    auto r = Parse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(Detail(r.status(), "field"), field) << body << " " << r.status().ToString();
  }
  auto five = Parse(R"({"model_type":"blend","hyperparameters":{"blend":[)" + std::string(
      R"({"model_type":"ease","weight":1},{"model_type":"als","weight":1},{"model_type":"item_knn","weight":1},)"
      R"({"model_type":"bpr_mf","weight":1},{"model_type":"lightgcn","weight":1}]}})"));
  EXPECT_EQ(Detail(five.status(), "field"), "hyperparameters.blend");
  EXPECT_TRUE(Parse(R"({"model_type":"blend","hyperparameters":{"blend":)" + two + "}}").ok());
}

TEST(JobRequestTest, OnlyLightGcnsFastSoftmaxRefitContinuesForHalfItsBestEpochs) {
  auto search = Parse(R"({"model_type":"lightgcn","hyperparameters":{"softmax_negatives":1024,"learning_rate":0.01}})");
  ASSERT_TRUE(search.ok());
  EXPECT_TRUE(RefitContinues(*search));
  EXPECT_EQ(RefitEpochs(*search, 50), 25);
  EXPECT_EQ(RefitEpochs(*search, 7), 4);
  EXPECT_EQ(RefitEpochs(*search, 0), 1);
  auto seed = Parse(R"({"model_type":"lightgcn","hyperparameters":{"learning_rate":0.001}})");
  auto slow = Parse(R"({"model_type":"lightgcn","hyperparameters":{"softmax_negatives":1024,"learning_rate":0.001}})");
  auto bpr_mf = Parse(R"({"model_type":"bpr_mf","hyperparameters":{"softmax_negatives":1024,"learning_rate":0.01}})");
  for (const auto* r : {&seed, &slow, &bpr_mf}) {
    ASSERT_TRUE(r->ok());
    EXPECT_FALSE(RefitContinues(**r));
    EXPECT_EQ(RefitEpochs(**r, 50), 50);
  }
}

}  // namespace
}  // namespace embedrec::training
