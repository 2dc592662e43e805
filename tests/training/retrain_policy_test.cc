// When a model is retrained without a person: the settings and the decision.
#include "training/retrain_policy.h"

#include <boost/json/parse.hpp>

#include "test_util.h"

namespace embedrec::training {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 100 * kDay;

RetrainState Trained(int64_t days_ago) {
  RetrainState st;
  st.has_deployed = true;
  st.last_job_created_ms = kNow - days_ago * kDay;
  st.last_trained_ms = st.last_job_created_ms;
  st.last_job_mode = "full";
  st.last_job_deployed = true;
  return st;
}

TEST(RetrainPolicyTest, SettingsHaveDefaultsAndRanges) {
  auto s = ParseRetrainSettings({});
  ASSERT_OK(s);
  EXPECT_TRUE(s->auto_retrain);
  EXPECT_EQ(s->interval_days, 7);
  EXPECT_EQ(s->min_new_interactions, 10000);
  EXPECT_DOUBLE_EQ(s->metric_drop, 0.10);
  s = ParseRetrainSettings(boost::json::parse(R"({"auto_retrain":false,"retrain_interval_days":1.5,
      "retrain_min_new_interactions":50,"retrain_metric_drop":0.2,"full_retrain_every":1})").as_object());
  ASSERT_OK(s);
  EXPECT_FALSE(s->auto_retrain);
  EXPECT_EQ(s->interval_days, 1.5);
  EXPECT_EQ(s->min_new_interactions, 50);
  EXPECT_EQ(s->full_every, 1);
  for (const char* bad : {R"({"auto_retrain":"no"})", R"({"retrain_interval_days":0})",
                          R"({"retrain_min_new_interactions":2.5})", R"({"retrain_metric_drop":1})",
                          R"({"full_retrain_every":"4"})"}) {
    auto r = ParseRetrainSettings(boost::json::parse(bad).as_object());
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(RetrainPolicyTest, EachTriggerWithItsFigures) {
  RetrainSettings s;
  RetrainState st = Trained(1);
  EXPECT_FALSE(DecideRetrain(s, st, kNow, 0));
  st.new_interactions = 10000;
  auto d = DecideRetrain(s, st, kNow, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, "new_interactions");
  EXPECT_EQ(d->figures.at("new_interactions").as_int64(), 10000);
  EXPECT_EQ(d->mode, "incremental");

  st = Trained(7);
  d = DecideRetrain(s, st, kNow, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, "interval");
  EXPECT_EQ(d->figures.at("days_since_last_training").as_double(), 7);
  EXPECT_FALSE(DecideRetrain(s, st, kNow, 3'600'000));  // the tenant's delay not yet over

  st = Trained(3);
  st.rate_at_deployment = OnlineRate{5000, 500};  // 10 %
  st.rate_now = OnlineRate{5000, 460};            // 9.2 %: an 8 % drop
  EXPECT_FALSE(DecideRetrain(s, st, kNow, 0));
  st.rate_now = OnlineRate{5000, 400};  // 8 %: 20 %
  d = DecideRetrain(s, st, kNow, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, "metric_drop");
  EXPECT_DOUBLE_EQ(d->figures.at("drop").as_double(), 0.2);
}

TEST(RetrainPolicyTest, NeverWithoutAModelWhileAJobRunsOrRightAfterOneOrWhenSwitchedOff) {
  RetrainSettings s;
  RetrainState st = Trained(30);
  ASSERT_TRUE(DecideRetrain(s, st, kNow, 0));
  RetrainState none = st;
  none.has_deployed = false;
  EXPECT_FALSE(DecideRetrain(s, none, kNow, 0));
  RetrainState active = st;
  active.job_active = true;
  EXPECT_FALSE(DecideRetrain(s, active, kNow, 0));
  RetrainState failed = st;  // a run failed a minute ago: not again at once
  failed.last_job_created_ms = kNow - 60'000;
  EXPECT_FALSE(DecideRetrain(s, failed, kNow, 0));
  EXPECT_TRUE(DecideRetrain(s, failed, kNow + kMinRetrainGapMs, 0));
  s.auto_retrain = false;
  EXPECT_FALSE(DecideRetrain(s, st, kNow, 0));
}

TEST(RetrainPolicyTest, IncrementalRunsGiveWayToAFullOneEveryFewRunsOrAfterDegrading) {
  RetrainSettings s;
  s.full_every = 3;
  RetrainState st = Trained(8);
  EXPECT_EQ(DecideRetrain(s, st, kNow, 0)->mode, "incremental");
  st.incremental_runs_since_full = 1;
  st.last_job_mode = "incremental";
  st.last_job_scheduled = true;
  EXPECT_EQ(DecideRetrain(s, st, kNow, 0)->mode, "incremental");
  st.incremental_runs_since_full = 2;
  EXPECT_EQ(DecideRetrain(s, st, kNow, 0)->mode, "full");
  st.incremental_runs_since_full = 1;
  st.last_job_deployed = false;  // the last incremental run did not beat the deployed model
  auto d = DecideRetrain(s, st, kNow, 0);
  EXPECT_EQ(d->mode, "full");
  EXPECT_EQ(d->figures.at("training_mode_reason").as_string(), "the last incremental run was not deployed");
}

TEST(RetrainPolicyTest, TenantsDelaysAreStableAndSpread) {
  RetrainSettings s;
  std::set<int64_t> hours;
  for (int i = 0; i < 200; ++i) {
    const std::string t = "tenant-" + std::to_string(i);
    const int64_t j = RetrainJitterMs(t, s);
    EXPECT_EQ(j, RetrainJitterMs(t, s));
    EXPECT_GE(j, 0);
    EXPECT_LT(j, static_cast<int64_t>(0.7 * kDay));
    hours.insert(j / 3'600'000);
  }
  EXPECT_GE(hours.size(), 14u);  // spread over (nearly) all 17 hours of a tenth of a week
}

}  // namespace
}  // namespace embedrec::training
