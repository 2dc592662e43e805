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
  // Whole-job seconds for `pairs` training pairs over `items` items
  // (epochs, plus evaluations and the refit).
  double JobSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // One fit of `r` alone (its epochs and periodic validations; no refit).
  double FitSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // Seconds per epoch alone.
  double EpochSeconds(const JobRequest& r, int64_t pairs, int64_t items);
  // A finished fit's measured seconds per epoch (training alone, without validations).
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
