// A tenant's stored interactions as a training data set: users and items
// renumbered densely (items without a live catalog entry left out), each
// pair weighted by its strongest interaction type (ml/interaction_types.h), and each user's latest
// items held out for validation.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "ml/dataset.h"
#include "store/tenant_stores.h"

namespace embedrec::training {


// The smallest data set worth training on.
inline constexpr int64_t kMinPairs = 10;
inline constexpr int32_t kMinUsers = 2, kMinItems = 2;

struct TrainingData {
  ml::Dataset data;    // data.test holds the validation split; ids in data.user_ids/item_ids
  int64_t events = 0;  // stored interactions used (positive weight, live item)
  // "strongest_type": validation counts only the held-out pairs of the
  // strongest interaction type present (ml::KeepStrongestHeldOut); "all".
  std::string validation_target = "all";
};

// kUnprocessable (with the counts) when there is too little to train on.
StatusOr<TrainingData> LoadTrainingData(store::TenantStore& store, const ml::TypeWeights& weights,
                                        double validation_split, uint64_t seed);


}  // namespace embedrec::training
