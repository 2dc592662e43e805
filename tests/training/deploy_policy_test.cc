#include "training/deploy_policy.h"

#include <gtest/gtest.h>

namespace embedrec::training {
namespace {

GateInput Base() {
  GateInput in;
  in.ndcg = 0.20;
  in.popularity_ndcg = 0.10;
  in.deployed_version = "v1.0_20260101";
  in.deployed_ndcg = 0.20;
  return in;
}

TEST(DeployPolicyTest, DeploysAModelThatBeatsPopularityAndHoldsUpToTheDeployedOne) {
  GateInput in = Base();
  in.ndcg = 0.195;  // within 5 %
  GateDecision d = DeployPolicy().Decide(in);
  EXPECT_TRUE(d.deploy) << d.reason;
  EXPECT_NE(d.reason.find("v1.0_20260101 on the same split"), std::string::npos) << d.reason;
}

TEST(DeployPolicyTest, KeepsAsStandbyWhatFallsBelowTheDeployedOneOrPopularity) {
  GateInput in = Base();
  in.ndcg = 0.18;  // 10 % below
  GateDecision d = DeployPolicy().Decide(in);
  EXPECT_FALSE(d.deploy);
  EXPECT_NE(d.reason.find("more than 5% below the deployed v1.0_20260101"), std::string::npos) << d.reason;
  in.ndcg = 0.09;
  d = DeployPolicy().Decide(in);
  EXPECT_FALSE(d.deploy);
  EXPECT_NE(d.reason.find("does not beat popularity"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("the deployed model keeps serving"), std::string::npos) << d.reason;
  in.deployed_version.reset();
  in.deployed_ndcg.reset();
  EXPECT_NE(DeployPolicy().Decide(in).reason.find("popularity keeps serving"), std::string::npos);
  in.is_popularity = true;  // never has to beat itself
  EXPECT_TRUE(DeployPolicy().Decide(in).deploy);
}

TEST(DeployPolicyTest, FirstModelsRequestsAndMissingSplits) {
  GateInput in = Base();
  in.deployed_version.reset();
  in.deployed_ndcg.reset();
  EXPECT_EQ(DeployPolicy().Decide(in).reason, "first model of the tenant");
  in = Base();
  in.auto_deploy = false;
  GateDecision d = DeployPolicy().Decide(in);
  EXPECT_FALSE(d.deploy);
  EXPECT_EQ(d.reason, "auto_deploy is false");
  in = Base();
  in.ndcg.reset();
  EXPECT_TRUE(DeployPolicy().Decide(in).deploy);
  in = Base();
  in.incremental = true;
  in.deployed_ndcg_recorded = true;
  d = DeployPolicy().Decide(in);
  EXPECT_TRUE(d.deploy);
  EXPECT_NE(d.reason.find("at its own validation"), std::string::npos);
  EXPECT_NE(d.reason.find("figures are optimistic"), std::string::npos);
}

}  // namespace
}  // namespace embedrec::training
