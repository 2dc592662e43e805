// Scores customers can read: the inner product of a user and an item turned
// into the probability that the user chooses the item, fitted on held-out
// data (Platt scaling: P = sigmoid(a · ip + b)). A bare sigmoid of the inner
// product saturates: a trained model's best items all showed 1.0.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "ml/dataset.h"
#include "ml/reranker.h"

namespace embedrec::ml {

struct ScoreCalibration {
  double a = 1, b = 0;  // the identity: sigmoid(ip), for models without a fit
  // Fitted on ip / ‖user vector‖ (the ranking of each user is unchanged;
  // users with long histories, whose vectors grow, no longer saturate at 1).
  bool per_user_norm = false;
  // The fitted slope was not increasing among what users are shown: a
  // nearly flat one at their base rate instead (FitScoreCalibration).
  bool floored_slope = false;
  int64_t positives = 0, users = 0;  // what the fit saw
  // With a top-k fit: the mean calibrated score of each user's 10 best and
  // their precision@10 on the held-out data (negative: not measured), with
  // one choice per user when the fit counted so.
  double mean_score_at_10 = -1, precision_at_10 = -1;
  bool one_choice_per_user = false;
  double reranker_gain = 1;  // the reranked lists' precision@10 over the model order's, when measured
  // `user_norm`: the norm of the user (query) vector the inner product was taken with.
  double Probability(double ip, double user_norm = 1) const;
  // As a model file's metadata carries it under "score_calibration".
  boost::json::object ToJson() const;
  // The calibration in a model file's metadata JSON; the identity when it
  // has none or it is malformed.
  static ScoreCalibration FromMetadata(std::string_view metadata_json);
};

// Moves b so that the mean score of each user's 10 best unseen items
// (data.train excluded; up to `max_users` users) is `target`, a unchanged:
// for a model refit on all data, whose inner products grew with the data
// it saw, against the precision@10 its validation measured.
// `never_shown`: as in CalibrationOptions.
Status MatchMeanScoreAtTen(const Dataset& data, const float* users, const float* items, int dim,
                           double target, ScoreCalibration* c, int max_users = 2000,
                           const UserItems* never_shown = nullptr);

struct CalibrationOptions {
  uint64_t seed = 0;
  int negatives_per_user = 32;  // the fit over all items: drawn per user
  int max_users = 5000;
  // > 0: the fit sees only what a user is shown: each user's top_k unseen
  // items by inner product, labelled by whether they were held out. A link
  // fitted over all items bends wrong at the top (measured: the mean score
  // of the 10 best was 1.4-3× their precision); fitted there, the mean
  // score@k matches precision@k for k up to top_k.
  int top_k = 0;
  // What serving never shows a user again (training's ServedMask, over
  // `data`'s numbering); the other training pairs (e.g. viewed items, where
  // serving excludes purchases only) are ranked by the top-k fit and the
  // match, as serving does. Null: every training pair is excluded.
  const UserItems* never_shown = nullptr;
  // Top-k fit: a score is the chance that the item is the user's NEXT
  // choice: one of the items of their next visit (data.next_choices, each
  // with its chance of coming first; every held-out item as likely when the
  // split has no times); their other held-out items are misses for it. A
  // user who held out five purchases counts as one who will make one more,
  // as a shop's next visit does. false: each held-out item is a choice of
  // its own (the precision of a 20 % split).
  bool one_choice_per_user = false;
  // Top-k fit, with a reranker that serving applies: the lists' precision is
  // that of each user's kCandidates best as served (seen items among them)
  // reordered by it; the fit (on the model's order) is then moved by the
  // gain it measures there (`reranker_gain`). `item_category`: what its
  // category signal reads (a number per item, −1 none).
  const Reranker* reranker = nullptr;
  const std::vector<int32_t>* item_category = nullptr;
  StepAside* step_aside = nullptr;  // a job's (common/step_aside.h): asked between blocks of users
};

// Fits a, b on the held-out pairs of `data.test` (label 1) against items the
// user has neither in train nor test (label 0; `negatives_per_user` drawn
// uniformly and weighted to stand for all of them), over at most `max_users`
// users: P is then the chance that a given item is among a user's held-out
// choices. Weighted logistic regression by Newton's method.
// kFailedPrecondition when data.test holds no pair, or when the fit over all
// items is not increasing (it would invert the ranking; serving then keeps
// sigmoid(ip)). A top-k fit that is not increasing gets a nearly flat slope
// and the base rate of what users are shown (`floored_slope`).
StatusOr<ScoreCalibration> FitScoreCalibration(const Dataset& data, const float* users,
                                               const float* items, int dim, const CalibrationOptions& opt);

}  // namespace embedrec::ml
