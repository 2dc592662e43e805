// How long a training job will take, from measured speed: seconds per epoch
// grow with the work units of an epoch (pairs × dimension × layers, and
// dimension² for ALS). The seconds per unit of each model type come from
// timing one epoch of a small synthetic data set on first use, then from
// every finished job (a moving average), so estimates follow this machine.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "training/job_request.h"

namespace embedrec::training {

class SpeedEstimate {
 public:
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

  std::mutex mu_;
  std::map<std::string, double> per_unit_;  // model type → seconds per unit
};

}  // namespace embedrec::training
