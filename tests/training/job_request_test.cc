#include "training/job_request.h"

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
  resolved = *r;
  ResolveBatchSize(&resolved, 10'000);  // small data: the reference's
  EXPECT_EQ(resolved.options.batch_size, 2048);
  EXPECT_EQ(r->options.epochs, 100);
  EXPECT_DOUBLE_EQ(r->validation_split, 0.2);
  r = Parse(R"({"hyperparameters":{"epochs":7}})",
            R"({"recommendation_model":"bpr_mf","training":{"epochs":30,"embedding_dim":32},
                "interaction_types":{"wishlist":{"weight":2.5},"view":0.5},"deploy_tolerance":0.2})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model_type, ml::ModelType::kBprMf);
  EXPECT_EQ(r->options.epochs, 7);          // the request wins
  EXPECT_EQ(r->options.embedding_dim, 32);  // then the tenant's settings
  EXPECT_EQ(r->options.num_layers, 0);      // bpr_mf has no layers
  EXPECT_EQ(r->given, (std::set<std::string>{"embedding_dim", "epochs"}));
  EXPECT_FLOAT_EQ(r->interaction_weights.at("wishlist"), 2.5f);
  EXPECT_FLOAT_EQ(r->interaction_weights.at("view"), 0.5f);
  EXPECT_DOUBLE_EQ(r->deploy_tolerance, 0.2);
}

TEST(JobRequestTest, ModelSpecificAndIncrementalDefaults) {
  auto als = Parse(R"({"model_type":"als"})");
  ASSERT_TRUE(als.ok());
  EXPECT_EQ(als->options.epochs, 15);
  EXPECT_DOUBLE_EQ(als->options.reg, 0.1);
  EXPECT_FALSE(HyperparametersJson(*als).contains("learning_rate"));
  EXPECT_TRUE(HyperparametersJson(*als).contains("alpha"));
  auto inc = Parse(R"({"training_mode":"incremental"})");
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->options.epochs, 10);
  EXPECT_DOUBLE_EQ(inc->options.learning_rate, 0.0001);
  inc = Parse(R"({"training_mode":"incremental","hyperparameters":{"epochs":40,"learning_rate":0.01}})");
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->options.epochs, 40);
  EXPECT_DOUBLE_EQ(inc->options.learning_rate, 0.01);
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

}  // namespace
}  // namespace embedrec::training
