// How a user's newest events steer what they are shown, one rule for
// serving (serving/recommender.cc) and for the training job, which checks on
// its validation split whether, in this data, the newest events predict what
// comes next (in a shop the next purchase follows the latest session; in a
// check-in or randomly held-out data set it may not).
//
// A user's query is their trained vector blended with the fold-in of their
// newest events: (kModelWeight · u + Σw · fold-in) / (kModelWeight + Σw),
// each event weighing its type's weight × 2^(−age / kHalfLifeDays) (age
// from the user's newest event) × kOrderDecay per newer event. Events the
// model has not seen count in full; the newest kSeenEvents it has seen
// count at the model's recent-events share (0 or kSeenShare, chosen by
// the training job; kept in the model file's metadata).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "ml/dataset.h"
#include "ml/model.h"

namespace embedrec::ml {

struct Steering {
  static constexpr double kModelWeight = 5;     // the trained vector counts as five views' worth
  static constexpr double kHalfLifeDays = 3;    // an event's weight halves with this age
  static constexpr double kOrderDecay = 0.8;    // ... and by this for each newer event
  static constexpr size_t kSeenEvents = 10;     // newest seen events that steer
  static constexpr double kSeenShare = 0.5;     // their share of an unseen event's weight
  // Seen events steer only where that beats the model's own ndcg@10 by more
  // than this share (the reranker's rule): steering costs every known user
  // the candidates kept for them, a search per request; the gains measured
  // over 25 jobs ran from −5 % to +15 %, two of them below 1 % (0.1, 0.4).
  static constexpr double kMinSeenGain = 0.01;

  // An event's weight, `age_ms` before the user's newest, `newer` events after it.
  static double EventWeight(double type_weight, int64_t age_ms, int newer);
  // q ← (kModelWeight · q + weight · folded) / (kModelWeight + weight).
  static void Blend(float* q, const float* folded, double weight, int d);
};

// Every user's vector steered by their newest Steering::kSeenEvents training
// events (data.train_events) at `share`: n_users × dim, row-major. Users
// without events keep their vector. (Interaction::ts is in seconds.)
std::vector<float> SteeredUserVectors(const Dataset& data, const Model& model, double share);

// The recent-events share a model file's metadata carries
// ("recent_events_share"); 0 without one (models from before the check).
double RecentEventsShare(std::string_view metadata_json);

}  // namespace embedrec::ml
