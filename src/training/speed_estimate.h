// How long a training job will take, from measured speed: seconds per epoch
// grow with the work units of an epoch (pairs × dimension × layers, and
// dimension² for ALS). The seconds per unit of each model type start from
// figures measured on a 2-core reference machine, are replaced by timing one
// epoch of a small synthetic data set of the type on a background thread
// when the type is first estimated (no request waits for it), then follow
// every finished job (a moving average), so estimates follow this machine.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <thread>

#include "training/job_request.h"

namespace embedrec::training {

class SpeedEstimate {
 public:
  // `threads`: what a job's fit uses (0: OpenMP's default), and the timing too.
  explicit SpeedEstimate(int threads = 0) : threads_(threads) {}
  ~SpeedEstimate();
  SpeedEstimate(const SpeedEstimate&) = delete;
  SpeedEstimate& operator=(const SpeedEstimate&) = delete;
  // Model types measured on this machine (by calibration or by jobs).
  size_t Measured() const;
  // Waits until no type waits to be timed (tests).
  void WaitIdle();
  // `pairs` is the tenant's distinct (user, item) pairs (what an epoch of
  // the pair models iterates; repeated events of a pair are one pair).
  // Whole-job seconds over `items` items (the validated fit on the training
  // split, its evaluations, and the refit on every pair).
  double JobSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // The validated fit of `r` alone (its epochs on the training split's
  // pairs and periodic validations; no refit).
  double FitSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // Seconds per epoch over `pairs` pairs.
  double EpochSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // A finished fit's measured seconds per epoch (training alone, without
  // validations) over the `pairs` pairs it learned from.
  void Record(const JobRequest& r, int64_t pairs, int64_t items, double seconds_per_epoch);

 private:
  // An epoch's work: pairs × dimension (× layers, negatives) for the
  // gradient models, × dimension for ALS; items³ for EASE's solve and
  // items² × dimension for the item x item models' factorisation.
  static double Units(const JobRequest& r, int64_t pairs, int64_t items);
  double SecondsPerUnit(const JobRequest& r);
  // One epoch of a synthetic data set with `model_type`'s default options:
  // seconds per unit, or nullopt when the fit failed.
  std::optional<double> Time(ml::ModelType model_type) const;
  void Calibrate();

  const int threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<ml::ModelType, double> per_unit_;  // model type → measured seconds per unit
  std::set<ml::ModelType> queued_;           // types asked for, not measured yet (timed in order)
  std::vector<ml::ModelType> to_time_;
  bool stop_ = false, timing_ = false;
  std::thread calibrator_;                 // started on the first type to time
};

}  // namespace embedrec::training
