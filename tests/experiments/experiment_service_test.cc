// The experiment service on a real tenant store, with simulated shoppers:
// each visit is assigned by the service, shown an answer of its arm's
// version, and clicked with that version's true click-through rate (the
// ground truth), counted per user as analytics would.
#include "experiments/experiment_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <random>

#include "../serving/tenant_fixture.h"
#include "common/json_text.h"

namespace embedrec::experiments {
namespace {
namespace json = boost::json;

class ExperimentServiceTest : public serving::TenantStoreTest {
 protected:
  void SetUp() override {
    TenantStoreTest::SetUp();
    PutVersion("v1.0_20261201", 1, store::VersionStatus::kDeployed);
    PutVersion("v2.0_20261202", 2, store::VersionStatus::kStandby);
    MakeService();
  }

  void PutVersion(const std::string& name, int major, store::VersionStatus status) {
    store::ModelVersionRecord v;
    v.version = name;
    v.major = major;
    v.model_type = "als";
    v.status = status;
    v.traffic_weight = status == store::VersionStatus::kDeployed ? 1 : 0;
    v.created_at_ms = clock_.NowMillis();
    ASSERT_OK(store_->training().PutVersion(v));
  }

  // A new service over the same stores (a restart), recovering the tenant.
  void MakeService() {
    svc_.reset();
    ExperimentDeps d;
    d.stores = stores_.get();
    d.clock = &clock_;
    d.ids = &ids_;
    d.arms = [this](const std::string&, const std::string& id) -> StatusOr<std::map<std::string, store::ArmSums>> {
      std::map<std::string, store::ArmSums> out;
      for (const auto& [arm, users] : counts_[id]) {
        store::ArmSums& s = out[arm];
        for (const auto& [u, c] : users) {
          s.users += 1;
          s.impressions += c.impressions;
          s.clicks += c.clicks;
          s.impressions_sq += c.impressions * c.impressions;
          s.clicks_sq += c.clicks * c.clicks;
          s.clicks_x_impressions += c.clicks * c.impressions;
        }
      }
      return out;
    };
    d.split = [this](const std::string&, const std::string& control, const std::string& challenger,
                     double share) -> Status {
      splits_.push_back(share);
      if (share <= 0) return store_->training().SetTraffic({{control, 1}}, "traffic-changed", "{}", clock_.NowMillis());
      return store_->training().SetTraffic({{control, 1 - share}, {challenger, share}}, "traffic-changed", "{}",
                                           clock_.NowMillis());
    };
    d.apply_settings = [this](const std::string&, const json::object& settings) -> Status {
      applied_.push_back(settings);
      return Status::Ok();
    };
    d.deploy = [this](const std::string&, const std::string& version, const std::string& reason) -> Status {
      deploys_.push_back(version);
      return store_->training().Deploy(version, reason, "model-deployed", "{}", clock_.NowMillis());
    };
    svc_ = std::make_unique<ExperimentService>(d, ExperimentOptions{.check_interval_ms = 0, .guardrail_requests = 200});
    ASSERT_OK(svc_->Recover(id_));
  }

  ExperimentSpec Spec(const std::string& challenger = "v2.0_20261202") {
    ExperimentSpec s;
    s.name = "new model";
    s.challenger = challenger;
    s.min_sample = 300;
    s.started_by = "test";
    return s;
  }

  // `visits` shopper visits from a population of users; a visit's click
  // follows the true click-through rate of the version that answered.
  void Shop(int visits, const std::map<std::string, double>& ctr) {
    std::uniform_int_distribution<int> who(0, 49999);
    for (int i = 0; i < visits; ++i) {
      const std::string user = "u" + std::to_string(who(rng_));
      auto a = svc_->Assign(id_, user);
      if (!a) continue;
      auto& c = counts_[a->experiment_id][a->arm][user];
      c.impressions += 1;
      if (std::bernoulli_distribution(ctr.at(a->model_version))(rng_)) c.clicks += 1;
    }
  }

  // Shops and checks until the experiment ends (or `rounds` checks); its record.
  Experiment RunUntilDecided(const std::string& id, const std::map<std::string, double>& ctr, int rounds = 200) {
    for (int i = 0; i < rounds && svc_->Running(id_); ++i) {
      Shop(1000, ctr);
      EXPECT_OK(svc_->Check(id_));
    }
    auto e = svc_->Get(id_, id);
    EXPECT_OK(e);
    return *e;
  }

  std::vector<double> Shares(const Experiment& e, const std::string& event) {
    std::vector<double> out;
    for (const auto& h : e.history) {
      if (h.as_object().at("event").as_string() == event) out.push_back(h.as_object().at("traffic_share").to_number<double>());
    }
    return out;
  }

  // A user the experiment puts in the control's (challenger's) arm.
  std::string UserIn(const std::string& exp_id, bool challenger) {
    for (int i = 0;; ++i) {
      const std::string u = "g" + std::to_string(i);
      auto a = svc_->Assign(id_, u);
      if (a && (a->arm == "challenger") == challenger) return u;
    }
  }
  std::string Control(const std::string& exp_id) { return UserIn(exp_id, false); }
  std::string Challenger(const std::string& exp_id) { return UserIn(exp_id, true); }

  std::string Deployed() {
    auto versions = store_->training().ListVersions();
    EXPECT_OK(versions);
    for (const auto& v : *versions) {
      if (v.status == store::VersionStatus::kDeployed) return v.version;
    }
    return "";
  }

  SequentialIds ids_;
  std::mt19937_64 rng_{7};
  std::unique_ptr<ExperimentService> svc_;
  std::map<std::string, std::map<std::string, std::map<std::string, store::ArmUserCounts>>> counts_;
  std::vector<double> splits_;
  std::vector<std::string> deploys_;
  std::vector<json::object> applied_;
};

TEST_F(ExperimentServiceTest, ABetterChallengerWinsAndIsRolledOutStepByStepToEverybody) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  EXPECT_EQ(e->status, kRunning);
  EXPECT_EQ(e->spec.control, "v1.0_20261201");  // the deployed version by default
  EXPECT_DOUBLE_EQ(e->share, 0.10);
  Experiment done = RunUntilDecided(e->id, {{"v1.0_20261201", 0.05}, {"v2.0_20261202", 0.07}});
  EXPECT_EQ(done.status, kPromoted);
  EXPECT_EQ(done.decision.at("outcome").as_string(), "challenger_won");
  EXPECT_EQ(Shares(done, "rollout_step"), (std::vector<double>{0.25, 0.5}));
  EXPECT_EQ(splits_, (std::vector<double>{0.10, 0.25, 0.5}));
  EXPECT_EQ(deploys_, std::vector<std::string>{"v2.0_20261202"});
  EXPECT_EQ(Deployed(), "v2.0_20261202");
  EXPECT_LE(done.p_value, 0.05);
  EXPECT_GT(done.statistics.at("relative_lift").to_number<double>(), 0);
  EXPECT_FALSE(svc_->Assign(id_, "u1"));  // over: nobody is assigned any more
}

TEST_F(ExperimentServiceTest, AWorseChallengerIsRolledBackAndTheControlServesAlone) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  Experiment done = RunUntilDecided(e->id, {{"v1.0_20261201", 0.06}, {"v2.0_20261202", 0.04}});
  EXPECT_EQ(done.status, kRolledBack);
  EXPECT_EQ(done.decision.at("outcome").as_string(), "challenger_lost");
  EXPECT_TRUE(Shares(done, "rollout_step").empty());
  EXPECT_EQ(splits_.back(), 0);
  EXPECT_TRUE(deploys_.empty());
  EXPECT_EQ(Deployed(), "v1.0_20261201");
  auto versions = store_->training().ListVersions();
  ASSERT_OK(versions);
  for (const auto& v : *versions) {
    if (v.version == "v2.0_20261202") {
      EXPECT_EQ(v.traffic_weight, 0);
    }
  }
}

// A lead that fades (a novelty, a trend that turned, an early lucky streak):
// the challenger wins the first decision, then falls behind. The later
// steps ask all the figures so far, so it is rolled back during the
// rollout, not rolled out to everybody on the first decision's p-value.
TEST_F(ExperimentServiceTest, AChallengerWhoseLeadFadesDuringTheRolloutIsRolledBack) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  for (int i = 0; i < 200 && Shares(*svc_->Get(id_, e->id), "rollout_step").empty(); ++i) {
    Shop(1000, {{"v1.0_20261201", 0.05}, {"v2.0_20261202", 0.08}});
    ASSERT_OK(svc_->Check(id_));
  }
  ASSERT_EQ(Shares(*svc_->Get(id_, e->id), "rollout_step"), (std::vector<double>{0.25}));
  Experiment done = RunUntilDecided(e->id, {{"v1.0_20261201", 0.06}, {"v2.0_20261202", 0.03}});
  EXPECT_EQ(done.status, kRolledBack);
  EXPECT_EQ(done.decision.at("outcome").as_string(), "challenger_lost");
  EXPECT_NE(done.decision.at("reason").as_string().find("during the rollout"), std::string::npos)
      << json::serialize(done.decision);
  EXPECT_TRUE(deploys_.empty());
  EXPECT_EQ(Deployed(), "v1.0_20261201");
  EXPECT_EQ(splits_.back(), 0);
}

// Seeded A/A runs (the same version in both arms), checked after every
// 1,000 visits up to 60,000: at most 5 % declare a winner.
TEST_F(ExperimentServiceTest, AnAATestDeclaresNoWinnerInAtLeast95PercentOfSeededRuns) {
  int decided = 0;
  const int runs = 60;
  for (int seed = 0; seed < runs; ++seed) {
    rng_.seed(100 + static_cast<uint64_t>(seed));
    auto e = svc_->Create(id_, Spec("v1.0_20261201"));
    ASSERT_OK(e);
    Experiment done = RunUntilDecided(e->id, {{"v1.0_20261201", 0.05}}, 60);
    if (done.status != kRunning) ++decided;
    if (done.status == kRunning) ASSERT_OK(svc_->Abort(id_, e->id, "test"));
  }
  std::printf("A/A through the service: %d of %d runs declared a winner\n", decided, runs);
  EXPECT_LE(decided, runs * 5 / 100) << decided << " of " << runs;
}

TEST_F(ExperimentServiceTest, ARestartMidRolloutResumesAtTheSameStep) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  const std::map<std::string, double> ctr{{"v1.0_20261201", 0.05}, {"v2.0_20261202", 0.07}};
  for (int i = 0; i < 200; ++i) {
    Shop(1000, ctr);
    ASSERT_OK(svc_->Check(id_));
    if (svc_->Get(id_, e->id)->step == 1) break;
  }
  ASSERT_EQ(svc_->Get(id_, e->id)->step, 1);
  MakeService();  // the process restarts
  auto resumed = svc_->Get(id_, e->id);
  ASSERT_OK(resumed);
  EXPECT_EQ(resumed->status, kRunning);
  EXPECT_EQ(resumed->step, 1);
  EXPECT_DOUBLE_EQ(resumed->share, 0.25);
  int challenger = 0;
  for (int i = 0; i < 4000; ++i) {
    auto a = svc_->Assign(id_, "r" + std::to_string(i));
    ASSERT_TRUE(a);
    challenger += a->arm == "challenger";
  }
  EXPECT_NEAR(challenger / 4000.0, 0.25, 0.03);
  Experiment done = RunUntilDecided(e->id, ctr);
  EXPECT_EQ(done.status, kPromoted);
  EXPECT_EQ(Shares(done, "rollout_step"), (std::vector<double>{0.25, 0.5}));
}

TEST_F(ExperimentServiceTest, ASlowChallengerBreaksTheLatencyGuardrailAndIsRolledBack) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  for (int i = 0; i < 250; ++i) {
    ExperimentService::Observe(*svc_->Assign(id_, Control(e->id)), 1.0, false);
    ExperimentService::Observe(*svc_->Assign(id_, Challenger(e->id)), 12.0, false);
  }
  ASSERT_OK(svc_->Check(id_));
  auto done = svc_->Get(id_, e->id);
  EXPECT_EQ(done->status, kRolledBack);
  EXPECT_EQ(done->decision.at("outcome").as_string(), "guardrail");
  EXPECT_NE(std::string(done->decision.at("reason").as_string()).find("latency p95"), std::string::npos);
}

TEST_F(ExperimentServiceTest, ErrorsOfTheChallengerBreakTheErrorGuardrail) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  for (int i = 0; i < 250; ++i) {
    ExperimentService::Observe(*svc_->Assign(id_, Control(e->id)), 1.0, false);
    ExperimentService::Observe(*svc_->Assign(id_, Challenger(e->id)), 1.0, i % 10 == 0);
  }
  ASSERT_OK(svc_->Check(id_));
  EXPECT_EQ(svc_->Get(id_, e->id)->decision.at("outcome").as_string(), "guardrail");
}

TEST_F(ExperimentServiceTest, UsersStayInTheirArmAndTheChallengersArmOnlyGrows) {
  int stayed = 0, in_small = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string u = "user" + std::to_string(i);
    const bool small = InChallengerArm("exp_a", u, 0.10);
    EXPECT_EQ(small, InChallengerArm("exp_a", u, 0.10));
    if (small) {
      ++in_small;
      stayed += InChallengerArm("exp_a", u, 0.25);
    }
  }
  EXPECT_EQ(stayed, in_small);
  EXPECT_NEAR(in_small / 10000.0, 0.10, 0.015);
  // Another experiment splits the users independently.
  int both = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string u = "user" + std::to_string(i);
    both += InChallengerArm("exp_a", u, 0.5) && InChallengerArm("exp_b", u, 0.5);
  }
  EXPECT_NEAR(both / 10000.0, 0.25, 0.02);
}

TEST_F(ExperimentServiceTest, OneOpenExperimentAtATimeAndTheControlIsTheDeployedVersion) {
  auto bad = Spec();
  bad.control = "v2.0_20261202";
  EXPECT_EQ(svc_->Create(id_, bad).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(svc_->Create(id_, Spec("v9.0_20261202")).status().code(), StatusCode::kNotFound);
  auto share = Spec();
  share.traffic_share = 1.5;
  EXPECT_EQ(svc_->Create(id_, share).status().code(), StatusCode::kUnprocessable);
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  EXPECT_EQ(svc_->Create(id_, Spec()).status().code(), StatusCode::kFailedPrecondition);
  auto aborted = svc_->Abort(id_, e->id, "user usr_1");
  ASSERT_OK(aborted);
  EXPECT_EQ(aborted->status, kAborted);
  EXPECT_EQ(aborted->decision.at("reason").as_string(), "aborted by user usr_1");
  EXPECT_EQ(svc_->Abort(id_, e->id, "x").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(svc_->Assign(id_, "u1"));
  EXPECT_OK(svc_->Create(id_, Spec()));
}

TEST_F(ExperimentServiceTest, PromotingByHandDeploysTheChallenger) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  auto p = svc_->Promote(id_, e->id, "user usr_1");
  ASSERT_OK(p);
  EXPECT_EQ(p->status, kPromoted);
  EXPECT_EQ(Deployed(), "v2.0_20261202");
}

TEST_F(ExperimentServiceTest, ADeployByHandEndsTheExperimentAtItsNextLook) {
  auto e = svc_->Create(id_, Spec());
  ASSERT_OK(e);
  PutVersion("v3.0_20261203", 3, store::VersionStatus::kStandby);
  ASSERT_OK(store_->training().Deploy("v3.0_20261203", "by hand", "model-deployed", "{}", clock_.NowMillis()));
  ASSERT_OK(svc_->Check(id_));
  auto done = svc_->Get(id_, e->id);
  EXPECT_EQ(done->status, kAborted);
  EXPECT_EQ(done->decision.at("outcome").as_string(), "serving_changed");
  EXPECT_EQ(Deployed(), "v3.0_20261203");  // left as the person made it
}

TEST_F(ExperimentServiceTest, TheNextTrainedVersionEntersAWaitingExperiment) {
  auto e = svc_->Create(id_, Spec(kNextChallenger));
  ASSERT_OK(e);
  EXPECT_EQ(e->status, kWaiting);
  EXPECT_FALSE(svc_->Assign(id_, "u1"));
  auto entered = svc_->EnterChallenger(id_, "v2.0_20261202", /*scheduled=*/false);
  ASSERT_OK(entered);
  ASSERT_TRUE(*entered);
  EXPECT_EQ(**entered, e->id);
  auto running = svc_->Get(id_, e->id);
  EXPECT_EQ(running->status, kRunning);
  EXPECT_EQ(running->spec.challenger, "v2.0_20261202");
  EXPECT_TRUE(svc_->Assign(id_, "u1"));
}

TEST_F(ExperimentServiceTest, AScheduledRetrainStartsAnExperimentAndAManualOneDeploysAsUsual) {
  auto manual = svc_->EnterChallenger(id_, "v2.0_20261202", /*scheduled=*/false);
  ASSERT_OK(manual);
  EXPECT_FALSE(*manual);
  auto scheduled = svc_->EnterChallenger(id_, "v2.0_20261202", /*scheduled=*/true);
  ASSERT_OK(scheduled);
  ASSERT_TRUE(*scheduled);
  auto e = svc_->Get(id_, **scheduled);
  EXPECT_EQ(e->status, kRunning);
  EXPECT_EQ(e->spec.started_by, "system");
  EXPECT_DOUBLE_EQ(e->share, 0.10);
  // While it runs, another version is deployed as usual (not a second experiment).
  auto again = svc_->EnterChallenger(id_, "v2.0_20261202", /*scheduled=*/true);
  ASSERT_OK(again);
  EXPECT_FALSE(*again);
}

}  // namespace
}  // namespace embedrec::experiments

namespace embedrec::experiments {
namespace {

TEST_F(ExperimentServiceTest, AStrategyArmServesItsOwnRulesAndIsPromotedIntoTheSettings) {
  auto spec = Spec("v1.0_20261201");  // the same version: only the strategy differs
  spec.challenger_settings = json::parse(R"({"merchandising":{"diversity":{"max_per_category":2}}})").as_object();
  auto e = svc_->Create(id_, spec);
  ASSERT_OK(e);
  auto c = svc_->Assign(id_, Control(e->id));
  auto h = svc_->Assign(id_, Challenger(e->id));
  ASSERT_TRUE(c && h);
  EXPECT_EQ(c->merchandising, nullptr);  // the tenant's rules
  ASSERT_NE(h->merchandising, nullptr);
  EXPECT_EQ(h->merchandising->max_per_category, 2);
  EXPECT_EQ(h->model_version, "v1.0_20261201");
  ASSERT_OK(svc_->Promote(id_, e->id, "user usr_1"));
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_EQ(JsonText(applied_[0]), R"({"merchandising":{"diversity":{"max_per_category":2}}})");
  EXPECT_TRUE(deploys_.empty());  // the version was already deployed
  EXPECT_EQ(Deployed(), "v1.0_20261201");
}

TEST_F(ExperimentServiceTest, AStrategyArmsBadRulesAreRefusedNamingTheField) {
  auto spec = Spec("v1.0_20261201");
  spec.challenger_settings = json::parse(R"({"merchandising":{"diversity":{"max_per_size":2}}})").as_object();
  auto e = svc_->Create(id_, spec);
  EXPECT_EQ(e.status().code(), StatusCode::kUnprocessable);
  const Status st = e.status();
  std::string field;
  for (const auto& [k, v] : st.details()) {
    if (k == "field") field = v;
  }
  EXPECT_EQ(field, "challenger_settings.merchandising.diversity");
  spec.challenger_settings = json::parse(R"({"colour":"red"})").as_object();
  EXPECT_EQ(svc_->Create(id_, spec).status().code(), StatusCode::kUnprocessable);
}

}  // namespace
}  // namespace embedrec::experiments
