// Training time estimates: never wait for a measurement (the first
// estimate of a type uses the reference figures while the type is timed in
// the background), then follow this machine and finished jobs.
#include "training/speed_estimate.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

namespace embedrec::training {
namespace {

// `pairs` of `items` items (users unknown: as many as the items).
DataShape E(int64_t pairs, int64_t items) { return DataShape{.pairs = pairs, .items = items}; }

TEST(SpeedEstimateTest, TheFirstEstimateOfATypeTimesItOnThisMachine) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kLightGcn;
  EXPECT_EQ(speed.Measured(), 0u);
  const auto t0 = std::chrono::steady_clock::now();
  const double first = speed.EpochSeconds(r, E(100000, 3000));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);  // 0.35 s here; EASE, the slowest, ~1 s
  EXPECT_EQ(speed.Measured(), 1u);  // timed before answering
  EXPECT_GT(first, 0);
  EXPECT_EQ(speed.EpochSeconds(r, E(100000, 3000)), first);  // once
  // Against the reference figure, of the right order (believed within 3x).
  SpeedEstimate busy;
  busy.SetJobsRunning(1);
  const double reference = busy.EpochSeconds(r, E(100000, 3000));
  EXPECT_EQ(busy.Measured(), 0u);
  EXPECT_LE(first / reference, 3.0 + 1e-9);
  EXPECT_GE(first / reference, 1.0 / 3 - 1e-9);
}

TEST(SpeedEstimateTest, WhileAJobTrainsTheTimingWaitsAndTheReferenceAnswers) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kPopularity;  // its timing takes milliseconds
  speed.SetJobsRunning(1);
  const double first = speed.EpochSeconds(r, E(100000, 3000));  // queues its timing
  // Beside a job a timing measures neither: none starts while one trains.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < deadline) ASSERT_EQ(speed.Measured(), 0u);
  speed.SetJobsRunning(0);
  speed.WaitIdle();
  EXPECT_EQ(speed.Measured(), 1u);
  EXPECT_NE(speed.EpochSeconds(r, E(100000, 3000)), first);  // this machine's figure now
}

TEST(SpeedEstimateTest, FinishedJobsMoveTheEstimate) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kAls;
  speed.Record(r, E(1000000, 10000), 2.0);
  EXPECT_NEAR(speed.EpochSeconds(r, E(1000000, 10000)), 2.0, 1e-9);
  // More pairs, more time, but less than in proportion (the solves do not grow).
  EXPECT_GT(speed.EpochSeconds(r, E(2000000, 10000)), 2.0);
  EXPECT_LT(speed.EpochSeconds(r, E(2000000, 10000)), 4.0);
  speed.Record(r, E(1000000, 10000), 4.0);
  EXPECT_NEAR(speed.EpochSeconds(r, E(1000000, 10000)), 3.0, 1e-9);  // a moving average
  speed.WaitIdle();  // nothing was queued: a job measured it
  EXPECT_EQ(speed.Measured(), 1u);
}

TEST(SpeedEstimateTest, LightGcnsExactStepGrowsWithTheDataSquaredUnlessItsBatchScales) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kLightGcn;
  r.options.batch_size = 2048;  // given
  speed.Record(r, E(1500000, 100000), 17);
  // Every exact step propagates over the graph: about quadratic once the
  // data is large (measured 68–120× from 150K to 1.5M pairs; 108× this
  // machine's `embedrec train` from the 150K to the 1.5M shop).
  EXPECT_GT(speed.EpochSeconds(r, E(1500000, 100000)) / speed.EpochSeconds(r, E(150000, 10000)), 25);
  EXPECT_GT(speed.EpochSeconds(r, E(15000000, 1000000)) / speed.EpochSeconds(r, E(1500000, 100000)), 60);
  // Not given: the batch keeps ~32 steps per epoch, the epoch grows with
  // the data (and the cost of gathering rows once they outgrow the cache).
  // Before any job, the reference machine's figures: `embedrec train
  // --threads 2` took 0.113 s per epoch on the 150K shop (49.8K training
  // pairs, 4,451 users, 5,885 items, batch 2048) and 2.16 s on the 1.5M
  // shop (586K pairs, 43,482 users, 57,771 items, batch 18,432), 12.05 s
  // with a batch of 2,048; a job's refit on a 500K-event shop (220K pairs,
  // 16,684 users, 13,233 items, batch 6,912) 0.61 s.
  SpeedEstimate fresh;
  fresh.SetJobsRunning(1);  // no timing: the reference machine's figures
  r.options.batch_size = 0;
  const DataShape shop150k{.pairs = 49753, .users = 4451, .items = 5885};
  const DataShape shop1500k{.pairs = 585953, .users = 43482, .items = 57771};
  const DataShape shop500k{.pairs = 219606, .users = 16684, .items = 13233};
  EXPECT_NEAR(fresh.EpochSeconds(r, shop150k), 0.113, 0.3 * 0.113);
  EXPECT_NEAR(fresh.EpochSeconds(r, shop1500k), 2.16, 0.3 * 2.16);
  EXPECT_NEAR(fresh.EpochSeconds(r, shop500k), 0.61, 0.3 * 0.61);
  JobRequest small_batch = r;
  small_batch.options.batch_size = 2048;
  EXPECT_NEAR(fresh.EpochSeconds(small_batch, shop1500k), 12.05, 0.3 * 12.05);
  // The growth bench's shops (`embedrec train --threads 2`, forty-fourth
  // session, medians of its runs): 1.46 s per epoch at 1.5M events, 18.8 s
  // at 15M: 12.8× the time for 11.05× the pairs (the rows gathered cost
  // more as they grow).
  const DataShape growth1500k{.pairs = 569468, .users = 50000, .items = 100000};
  const DataShape growth15m{.pairs = 6294301, .users = 500000, .items = 1000000};
  EXPECT_NEAR(speed.EpochSeconds(r, growth15m) / speed.EpochSeconds(r, growth1500k), 12.8, 0.1 * 12.8);
  r.options.walks = 2;  // the sampled step costs the batch only
  EXPECT_NEAR(speed.EpochSeconds(r, E(1500000, 100000)) / speed.EpochSeconds(r, E(150000, 10000)), 10, 1e-6);
}

TEST(SpeedEstimateTest, TheSoftmaxLossCountsItsProductsWithTheNegatives) {
  // `embedrec train --threads 2` on the reference machine, the 150K shop's
  // epoch (the shape below): BPR 0.10 s, the softmax over 4,096 negatives
  // 0.89 s (batch 2048).
  SpeedEstimate fresh;
  fresh.SetJobsRunning(1);  // no timing: the reference machine's figures
  JobRequest r;
  r.model_type = ml::ModelType::kLightGcn;
  const DataShape shop150k{.pairs = 49753, .users = 4451, .items = 5885};
  const double bpr = fresh.EpochSeconds(r, shop150k);
  r.options.loss = ml::TrainOptions::Loss::kSoftmax;
  r.options.softmax_negatives = 4096;
  EXPECT_NEAR(fresh.EpochSeconds(r, shop150k), 0.89, 0.3 * 0.89);
  r.options.softmax_negatives = 1024;  // the products scale with the negatives
  const double fewer = fresh.EpochSeconds(r, shop150k);
  EXPECT_NEAR(fewer - bpr, (0.89 - 0.10) / 4, 0.3 * (0.89 - 0.10) / 4);
  // What a job measures of the type moves the softmax's estimate with it.
  SpeedEstimate learnt;
  r.options.loss = ml::TrainOptions::Loss::kBpr;
  learnt.Record(r, shop150k, 0.2);  // a BPR job measured this machine
  r.options.loss = ml::TrainOptions::Loss::kSoftmax;
  EXPECT_NEAR(learnt.EpochSeconds(r, shop150k) / 0.2, fewer / bpr, 0.01 * fewer / bpr);
}

TEST(SpeedEstimateTest, BprMfsEpochGrowsFasterThanItsPairsOnceItsTableOutgrowsTheCache) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kBprMf;
  speed.Record(r, E(150000, 10000), 0.027);
  // Measured: 0.027, 0.81 and 11.2 s per epoch at 150K, 1.5M and 15M interactions.
  EXPECT_NEAR(speed.EpochSeconds(r, E(1500000, 100000)), 0.81, 0.2 * 0.81);
  EXPECT_NEAR(speed.EpochSeconds(r, E(15000000, 1000000)), 11.2, 0.2 * 11.2);
}

JobRequest Validated(ml::ModelType type) {
  JobRequest r;
  r.model_type = type;
  r.validation_split = 0.2;
  r.options.epochs = 100;
  r.options.eval_every = 10;
  r.options.patience = 3;
  return r;
}

TEST(SpeedEstimateTest, AJobThatStoppedEarlyShortensTheNextEstimateOfItsKind) {
  SpeedEstimate speed;
  JobRequest r = Validated(ml::ModelType::kLightGcn);
  const DataShape shop{.events = 150000, .pairs = 60000, .users = 4500, .items = 6000};
  speed.Record(r, shop, 0.1);
  const JobSteps before = speed.Job(r, shop);
  // Asked for 100 epochs; it stopped after 40, the best at 10.
  speed.RecordEpochs(r, 40, 10);
  const JobSteps after = speed.Job(r, shop);
  EXPECT_NEAR(after.fit / before.fit, 0.4, 0.05);    // 40 epochs (and 5 validations, not 11)
  // The refit trains the best epoch count (then matches scores, as before).
  EXPECT_GT(after.refit / before.refit, 0.1);
  EXPECT_LT(after.refit / before.refit, 0.15);
  // LightGCN's softmax at a fast learning rate continues the fit: half of them.
  JobRequest fast = r;
  fast.options.learning_rate = 0.02;
  fast.options.loss = ml::TrainOptions::Loss::kSoftmax;
  speed.RecordEpochs(fast, 40, 10);  // 10 best epochs (of fast's kind: type and learning rate)
  JobRequest fast_bpr = fast;
  fast_bpr.options.loss = ml::TrainOptions::Loss::kBpr;
  const double match = speed.Job(fast_bpr, shop).refit - 10 * speed.EpochSeconds(fast_bpr, shop);
  EXPECT_GT(match, 0);
  EXPECT_NEAR((speed.Job(fast, shop).refit - match) / speed.EpochSeconds(fast, shop), 5, 1e-6);
  // Another learning rate is another kind: not moved by it. A fast one
  // (0.005 and more) is expected to stop early before any job measured it.
  JobRequest slower = r;
  slower.options.learning_rate = 0.002;
  EXPECT_NEAR(speed.Job(slower, shop).refit, before.refit, 1e-9);
  JobRequest faster = r;
  faster.options.learning_rate = 0.01;
  EXPECT_NEAR(speed.Job(faster, shop).fit / before.fit, 0.92, 0.05);
  EXPECT_LT(speed.Job(faster, shop).refit, before.refit * 0.8);  // the best at 0.76 of them
  // Without early stopping every epoch asked for is trained.
  JobRequest all = r;
  all.options.patience = 0;
  EXPECT_NEAR(speed.Job(all, shop).refit, before.refit, 1e-9);
}

TEST(SpeedEstimateTest, TheStepsAroundTheFitFollowFinishedJobs) {
  SpeedEstimate speed;
  JobRequest r = Validated(ml::ModelType::kAls);
  const DataShape small{.events = 150000, .pairs = 60000, .users = 4500, .items = 6000};
  const DataShape large{.events = 1500000, .pairs = 600000, .users = 45000, .items = 60000};
  const JobSteps first = speed.OtherSteps(r, small);
  EXPECT_GT(first.loading, 0);
  EXPECT_GT(first.validation, 0);
  // The reference machine's figures for a 150K-event shop: loading ~0.15 s,
  // the judgement of the model ~1 s (measured 0.15 and 0.9–1.2 s).
  EXPECT_NEAR(first.loading, 0.15, 0.05);
  EXPECT_NEAR(first.validation, 1.0, 0.3);
  JobTimes t;
  t.data = small;
  t.took = first;
  t.took.loading = 3 * first.loading;  // a slower disk
  t.took.validation = first.validation / 2;
  speed.RecordJob(r, t);  // this machine's figure replaces the reference
  EXPECT_NEAR(speed.OtherSteps(r, small).loading, 3 * first.loading, 1e-9);
  EXPECT_NEAR(speed.OtherSteps(r, small).validation, first.validation / 2, 1e-9);
  t.took.loading = first.loading;
  speed.RecordJob(r, t);
  const JobSteps second = speed.OtherSteps(r, small);
  EXPECT_NEAR(second.loading, 2 * first.loading, 1e-9);  // then a moving average
  // Loading grows with the events; the judgement with its (bounded) users × items.
  EXPECT_NEAR(speed.OtherSteps(r, large).loading / second.loading, 10, 1e-6);
  const double judged = speed.OtherSteps(r, large).validation / second.validation;
  // 10× the items; the users sampled (2,000 + 4,000), the rankings' up to 20,000.
  EXPECT_GT(judged, 5);
  EXPECT_LT(judged, 20);
  // No validation split: no judgement, no refit.
  JobRequest unsplit = r;
  unsplit.validation_split = 0;
  EXPECT_EQ(speed.Job(unsplit, small).validation, 0);
  EXPECT_EQ(speed.Job(unsplit, small).refit, 0);
}

TEST(SpeedEstimateTest, TheFitLearnsFromMoreOfThePairsWhenOnlyTheStrongestTypeIsHeldOut) {
  SpeedEstimate speed;
  speed.SetJobsRunning(1);  // no timing: the reference machine's figures
  JobRequest r;
  r.model_type = ml::ModelType::kLightGcn;
  r.options.batch_size = 2048;  // given (the seed's request): an epoch costs about the pairs squared
  r.options.eval_every = 0;
  DataShape shop{.pairs = 90000, .users = 5000, .items = 6000};
  const double unknown = speed.FitSeconds(r, shop);
  shop.types = 1;  // 20 % of every user's pairs held out
  const double one = speed.FitSeconds(r, shop);
  shop.types = 2;  // only purchases held out: 95 % of the pairs trained on (measured on a shop)
  const double mixed = speed.FitSeconds(r, shop);
  EXPECT_LT(one, unknown);
  EXPECT_GT(mixed, unknown);
  EXPECT_NEAR(mixed / one, (0.95 * 0.95) / (0.8 * 0.8), 0.15);
  // Four negatives per pair (the seed's request): measured 1.31x one's epoch.
  const double single = speed.EpochSeconds(r, shop);
  r.options.negative_samples = 4;
  EXPECT_NEAR(speed.EpochSeconds(r, shop) / single, 1.31, 0.05);
}

TEST(SpeedEstimateTest, ANamedBlendIsItsPartsFitsAndRefitsWithOneCalibration) {
  SpeedEstimate speed;
  speed.SetJobsRunning(1);  // the reference figures: no timing in a unit test
  auto parsed = ParseJobRequest(boost::json::parse(R"({"model_type":"blend","hyperparameters":{"blend":[
      {"model_type":"als","weight":0.5,"hyperparameters":{"epochs":12}},
      {"model_type":"lightgcn","weight":0.5,"hyperparameters":{"epochs":40,"learning_rate":0.01,
                                                              "softmax_negatives":64}}]}})").as_object(), "{}");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  JobRequest blend = *parsed;
  const DataShape data = E(200000, 5000);
  ResolveBatchSize(&blend, data.pairs);
  const JobRequest& als = blend.blend_parts[0];
  const JobRequest& lgcn = blend.blend_parts[1];
  EXPECT_NEAR(speed.FitSeconds(blend, data), speed.FitSeconds(als, data) + speed.FitSeconds(lgcn, data), 1e-9);
  // Each part's refit as its own job's would be (LightGCN's: half its expected best, continued).
  const double calibration = speed.CalibrationSeconds(blend, data);
  EXPECT_NEAR(speed.RefitSeconds(blend, data),
              calibration + speed.RefitSeconds(als, data) - speed.CalibrationSeconds(als, data) +
                  speed.RefitSeconds(lgcn, data) - speed.CalibrationSeconds(lgcn, data),
              1e-9);
  EXPECT_LT(speed.RefitSeconds(blend, data), speed.EpochSeconds(blend, data));  // not every asked epoch again
}

TEST(SpeedEstimateTest, AlsSolvesARowPerUserAndItem) {
  SpeedEstimate speed;
  JobRequest r;
  r.model_type = ml::ModelType::kAls;
  const DataShape few_users{.pairs = 100000, .users = 600, .items = 10000};
  DataShape many_users = few_users;
  many_users.users = 20000;
  // MovieLens (610 users, 9,724 items) against a shop with as many pairs
  // spread over 20,000 users: the solves are most of an epoch.
  EXPECT_GT(speed.EpochSeconds(r, many_users) / speed.EpochSeconds(r, few_users), 1.8);
}

}  // namespace

// The synthetic epoch is timed on one thread (on two, a fresh server's
// timing came out in one of two modes 2.2x apart); a job's threads scale it
// against the reference's two.
TEST(SpeedEstimateTest, AJobsThreadsScaleTheOneThreadTimingAgainstTheReferencesTwo) {
  EXPECT_DOUBLE_EQ(SpeedEstimate::ThreadScale(2), 1.0);
  EXPECT_NEAR(SpeedEstimate::ThreadScale(1), 1.516, 0.001);  // one thread: ~1.5x the seconds
  EXPECT_NEAR(SpeedEstimate::ThreadScale(8), 0.435, 0.001);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_DOUBLE_EQ(SpeedEstimate::ThreadScale(0), SpeedEstimate::ThreadScale(cores));
}

}  // namespace embedrec::training
