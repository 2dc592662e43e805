// model_type "auto": a budgeted search over model types and their key
// hyperparameters, each trial trained on the job's training split and
// judged on its validation split as it would be served (ndcg@10 of the
// user vectors serving would query with, reordered by the second stage
// where it ranks better: training/served_judgement.h); the best is then
// refit on all the data like any model (job_runner.cc). Figures within 1 %
// of each other are alike: of those, the trial that took less time.
// Hyperparameters the request or the tenant gave are honoured in every
// trial and never searched over.
//
// The trials, cheapest first: ease at three L2 strengths (catalogs up to
// ml::kMaxItemItemItems), item_knn, als at three regularisations, lightgcn,
// bpr_mf. A trial whose estimated time would overrun the budget is skipped,
// except the first ALS trial while no trial has succeeded: the search always
// trains something. Then blends (ml/blend.h) of the chosen trial with the
// best trial of each other family, chosen only when clearly better (the .cc
// says by how much and why).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>

#include "common/status.h"
#include "ml/model.h"
#include "training/job_request.h"
#include "training/served_judgement.h"
#include "training/speed_estimate.h"

namespace embedrec::training {

struct Trial {
  JobRequest request;  // a concrete model type and its settings
  double estimated_seconds = 0;
};

// `req` for one model type: our defaults for that type, what `req` was given.
JobRequest RequestForType(const JobRequest& req, ml::ModelType type);

// The trials for `req` (model_type "auto") on data of this size. LightGCN's
// trains with the sampled softmax over this many negatives (at most the
// items) unless the request gives softmax_negatives.
inline constexpr int kSearchSoftmaxNegatives = 1024;
std::vector<Trial> PlanTrials(const JobRequest& req, const DataShape& data, SpeedEstimate& speed);
// The default budget: three times one LightGCN training (our defaults) at
// this size, at most kMaxDefaultBudgetSeconds, so that a large shop's job
// (the search, then the chosen model's refit) ends within about half an hour.
inline constexpr double kMaxDefaultBudgetSeconds = 15 * 60;
double DefaultBudgetSeconds(const JobRequest& req, const DataShape& data, SpeedEstimate& speed);
// The expected whole job by step: the trials that fit in the budget (the
// fit), then the mean of their refits (the chosen one is not known yet).
JobSteps AutoJobSteps(const JobRequest& req, const DataShape& data, SpeedEstimate& speed);

struct SearchResult {
  std::shared_ptr<ml::Model> best;
  std::optional<ServedJudgement> judgement;  // of `best`, at kFinalKs: the job's validation reuses it
  JobRequest chosen;          // the best trial's request
  int epochs_run = 0;         // of the best trial
  double train_seconds = 0;   // of the best trial
  boost::json::array trials;  // every trial: type, hyperparameters, status, metrics, seconds
  double budget_seconds = 0, search_seconds = 0;
};

struct SearchEnv {
  SpeedEstimate* speed = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  int threads = 0;
  // Called after every trial's change, and every few seconds while one
  // trains, with the trials so far, the fraction of the budget used and the
  // seconds the search expects to have left (the trials still to run and
  // what remains of the running one's estimate, within the budget).
  std::function<void(const boost::json::array& trials, double budget_used, double seconds_left)> progress;
  DataShape shape;  // the job's data as counted (every pair), for the trials' estimates; unset: `data`'s
  const std::vector<int32_t>* item_categories = nullptr;  // per item (−1: none): the second stage's feature
  const ml::UserItems* excluded = nullptr;  // what serving never shows again (JudgeOptions::excluded)
  StepAside* step_aside = nullptr;  // the trials' fits ask it between batches (null: never step aside)
};

// Runs the plan within the budget. kFailedPrecondition when no trial could
// be trained; kCancelled when cancelled.
StatusOr<SearchResult> RunSearch(const JobRequest& req, const ml::Dataset& data, const SearchEnv& env);

}  // namespace embedrec::training
