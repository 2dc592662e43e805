// How long a training job will take, step by step, from measured speed.
//
// An epoch's seconds grow with its work units (pairs × dimension × layers,
// dimension² for ALS, items³ for EASE's solve); a validation's with the users
// it ranks × items × dimension; loading with the stored events; the index and
// the stored model with their rows × dimension. Each step's seconds per unit
// start from figures measured on the 2-core reference machine (fitted to jobs
// of several sizes, docs/benchmarks.md). An epoch's are scaled by how fast
// this machine runs a small synthetic epoch of the type against the
// reference machine, timed when the type is first estimated (up to about a
// second, on the caller's thread; in the background once no job trains
// when one does). Every finished job then replaces them
// with its own figures (a moving average), and tells how many of the epochs
// asked for an early-stopped fit ran and how many the refit trained (per
// model type and learning rate), so estimates follow this machine and the
// tenant's data.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "training/job_request.h"

namespace embedrec::training {

// What a job learns from, as counted when it is submitted.
struct DataShape {
  int64_t events = 0;  // stored interactions
  int64_t pairs = 0;   // distinct (user, item) pairs: what an epoch of the pair models iterates
  int64_t users = 0;
  int64_t items = 0;   // items with interactions: what the model learns
  // Interaction types (counted up to 2; 0: not known): with several, the
  // validation split holds out only the strongest type's pairs.
  int64_t types = 0;
};

// A job's data: every pair (the validation split's too), its users and
// items, and the `events` it was loaded from.
DataShape JobData(const ml::Dataset& data, int64_t events);
// The pairs an epoch over `data` iterates (its training split), its users
// and items.
DataShape EpochData(const ml::Dataset& data);

// A job's seconds by step (the job record's `estimated_phase_seconds` and,
// measured, `phase_seconds`).
struct JobSteps {
  double loading = 0;     // the events read, the split, popularity's baseline
  double fit = 0;         // the validated fit (auto: the search), its periodic validations included
  double validation = 0;  // the chosen model judged: metrics, steering, calibration, reranker
  double refit = 0;       // on all the data
  double index = 0;
  double storing = 0;     // model file, record, deploy
  double Total() const { return loading + fit + validation + refit + index + storing; }
  double AfterFit() const { return validation + refit + index + storing; }
  // Only the steps the job has (no refit without a validation split).
  boost::json::object Json(bool refit_step) const;
};

// What a finished job measured, for the estimate to learn from.
struct JobTimes {
  DataShape data;  // as loaded by the job
  JobSteps took;
  double eval_seconds = 0;  // the fit's periodic validations (part of took.fit)
  int evaluations = 0;
};

class SpeedEstimate {
 public:
  // `threads`: what a job's fit uses (0: one per core).
  explicit SpeedEstimate(int threads = 0) : threads_(threads) {}
  // A job's seconds on `threads` (0: one per core) against the reference's
  // two: the synthetic epoch is timed on one thread and scaled by it.
  static double ThreadScale(int threads);
  ~SpeedEstimate();
  SpeedEstimate(const SpeedEstimate&) = delete;
  SpeedEstimate& operator=(const SpeedEstimate&) = delete;
  // Model types timed on this machine (by the synthetic epoch or by jobs).
  size_t Measured() const;
  // Waits until no type waits to be timed (tests).
  void WaitIdle();

  // Jobs training now (the training service tells): no timing runs while
  // there are any, since beside a job it would measure neither (measured: a
  // first job ran beside its type's timing, the timing 4-5x slow); a type
  // first estimated then keeps the reference figure until the jobs end.
  void SetJobsRunning(int jobs);

  // A whole job of `r` (a concrete model type) over `data`, by step.
  JobSteps Job(const JobRequest& r, const DataShape& data);
  // The validated fit of `r` alone: the epochs it is expected to run on the
  // training split (fewer than asked when it stops early) and its periodic
  // validations. An auto search's trial costs this.
  double FitSeconds(const JobRequest& r, const DataShape& data);
  // One ranking of the validation users (a periodic validation, an auto trial's judgement).
  double EvaluationSeconds(const JobRequest& r, const DataShape& data);
  // The second stage's cross-fitted fit (its users' candidates), part of a
  // judgement as served (an auto trial's, the chosen model's validation).
  double RerankSeconds(const JobRequest& r, const DataShape& data);
  // Scores matched to a precision over up to 2,000 users (the validation's
  // calibration, the refit's): what an auto job's validation is left with,
  // since it takes the search's judgement of the chosen trial.
  double CalibrationSeconds(const JobRequest& r, const DataShape& data);
  // The refit on every pair: the epochs the fit is expected to choose (as
  // RefitEpochs trains them).
  double RefitSeconds(const JobRequest& r, const DataShape& data);
  // The steps around the fit and refit (loading, validation, index, storing).
  JobSteps OtherSteps(const JobRequest& r, const DataShape& data);
  // Seconds per epoch over `data` (its pairs: those the epoch iterates).
  double EpochSeconds(const JobRequest& r, const DataShape& data);

  // A finished fit's seconds per epoch (training alone, without validations)
  // over `data` (its pairs: those it learned from).
  void Record(const JobRequest& r, const DataShape& data, double seconds_per_epoch);
  // A finished fit's epochs (of `r.options.epochs` asked for): how many ran
  // and which was best (what the refit trains).
  void RecordEpochs(const JobRequest& r, int epochs_run, int best_epoch);
  // A finished job's steps (its epochs are recorded by Record and RecordEpochs).
  void RecordJob(const JobRequest& r, const JobTimes& t);

 private:
  // An epoch's work units (see the .cc for each type).
  static double Units(const JobRequest& r, const DataShape& data);
  double SecondsPerUnit(const JobRequest& r);
  // One epoch of a synthetic data set with `model_type`'s default options:
  // seconds per unit, or nullopt when the fit failed.
  std::optional<double> Time(ml::ModelType model_type) const;
  void Calibrate();
  // Queues `type` for the background timing (once); mu_ held.
  void QueueTiming(ml::ModelType type);
  // A timing's seconds per unit, as this machine's ratio to the reference; mu_ held.
  void Believe(ml::ModelType type, double per_unit);
  // Expected share of the epochs asked for that the fit runs / the refit trains.
  std::pair<double, double> EpochShares(const JobRequest& r);
  // A step's seconds per unit: measured by jobs, or the reference figure.
  double StepCost(int step) const;
  // The part of the chosen model's judgement that scores up to `max_users`
  // users at `user_weight` each (the reranker's 4,000, the calibration's
  // 2,000; the .cc's JudgedUsers); mu_ held.
  double JudgementPart(const JobRequest& r, const DataShape& data, int64_t max_users, double user_weight) const;

  const int threads_;
  mutable std::mutex mu_;
  std::mutex timing_mu_;  // one synchronous timing at a time (taken before mu_)
  std::condition_variable cv_;
  std::map<ml::ModelType, double> per_unit_;     // model type → seconds per unit measured by jobs
  std::map<ml::ModelType, double> machine_;      // model type → synthetic epoch here ÷ on the reference machine
  std::set<ml::ModelType> queued_;               // types asked for, not timed yet (timed in order)
  std::vector<ml::ModelType> to_time_;
  std::map<std::pair<ml::ModelType, double>, std::pair<double, double>> shares_;  // (type, lr) → run, best
  std::map<int, double> step_cost_;              // step → seconds per unit measured by jobs
  bool stop_ = false, timing_ = false;
  int jobs_running_ = 0;
  std::atomic<bool> cancel_timing_{false};  // set when destroyed
  std::thread calibrator_;                       // started on the first type to time
};

}  // namespace embedrec::training
