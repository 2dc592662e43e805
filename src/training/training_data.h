// A tenant's stored interactions as a training data set: users and items
// renumbered densely (items without a live catalog entry left out), each
// pair weighted by its strongest interaction type (interactions/interaction_types.h), and each user's latest
// items held out for validation.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "ml/dataset.h"
#include "serving/exclusion.h"
#include "store/tenant_stores.h"

namespace embedrec::training {


// The smallest data set worth training on.
inline constexpr int64_t kMinPairs = 10;
// Validations inside a job rank at most this many users (a fixed random
// sample, ml::SampleEvalUsers): the standard error of a mean over 20,000
// users is below 0.003 for ndcg@10 and hit_rate@20 (both within [0, 1]).
inline constexpr int64_t kValidationUsers = 20000;
inline constexpr int32_t kMinUsers = 2, kMinItems = 2;

// What serving never shows a user again, as a mask over a data set of one
// load's numbering (the split's or all of it): by the tenant's exclusion,
// "auto" resolved as serving resolves it — the pairs with a purchase event
// ("purchased"; "auto" once the tenant has a purchase), every pair
// ("all_interacted"; "auto" without purchases), none ("none"). By type, as
// serving decides (recommender.cc's Excluded): a custom type weighing more
// than a purchase is still shown again under "purchased". Judging a model
// with this mask instead of every training pair counts the slots it spends
// on items the user only viewed or carted, as a served list does: judged
// with every pair masked, ALS and the softmax LightGCN led the electronics
// shops by 0.01-0.05 hit@20 and lost that lead to those slots as served
// (docs/benchmarks.md).
struct ServedMask {
  serving::Exclusion exclusion = serving::Exclusion::kAllInteracted;  // resolved
  // "purchased": the loaded pairs with a purchase event (a split holds out
  // whole pairs, so a training pair's events are all in training).
  ml::UserItems purchased;
  // The training pairs of `data` that serving never shows again
  // (ml::Evaluate's `excluded`).
  ml::UserItems For(const ml::Dataset& data) const;
};

struct TrainingData {
  ml::Dataset data;    // data.test holds the validation split; ids in data.user_ids/item_ids
  int64_t events = 0;  // stored interactions used (positive weight, live item)
  // "strongest_type": validation holds out only pairs of the strongest
  // interaction type present, each user's latest (SplitOptions::
  // strongest_type_only); "all": each user's latest items of any type.
  std::string validation_target = "all";
  // What serving never shows a user again (ServedMask).
  ServedMask served;
  // With a validation split: every event loaded (training's and the held-out
  // pairs'), for the refit on all the data without reading the store again.
  std::vector<ml::Interaction> all_events;
  // Per item (data numbering): a number per catalog category, −1 for none
  // (what the reranker's category feature compares).
  std::vector<int32_t> item_categories;
};

// kUnprocessable (with the counts) when there is too little to train on.
StatusOr<TrainingData> LoadTrainingData(store::TenantStore& store, const interactions::TypeWeights& weights,
                                        serving::Exclusion exclusion, double validation_split, uint64_t seed);

// Every loaded event as one training set (no validation split), with the
// same numbering and ids; consumes `td` (its data is moved out).
ml::Dataset AllData(TrainingData&& td);


}  // namespace embedrec::training
