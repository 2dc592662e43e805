// A second stage over a model's candidates: a logistic model over a few
// signals every shop has and a single model ranks poorly — how strongly the
// model prefers the item, its place in the model's order, how much of the
// user's newest events were in the item's category (the session they are
// in; also as a log, so that a category the user left weighs as a factor:
// a choice is a category times an item within it), how many users chose
// the item (popularity, which each model type weighs differently), and
// whether the user already had it (viewed or carted it: serving leaves
// those in, and without this signal the fit reads "not chosen again" into
// the session's category and weighs it less).
// One tenant's weights, fitted by the training job on its validation
// split, against the items each user went on to choose.
//
// The job keeps a reranker only when, cross-fitted (fitted on half the
// validation users, judged on the other half, and the other way round), it
// ranks the held-out items better than the model's order, by more than
// noise (two paired standard errors of ndcg@10); the model file's
// metadata then carries it ("reranker") and serving reorders the model's
// best kCandidates with it. The same feature function serves both, so what
// was validated is what is served.
//
// Thread safety: a Reranker is immutable; the functions are pure.
#pragma once

#include <array>
#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/step_aside.h"
#include "ml/dataset.h"

namespace embedrec::ml {

struct Reranker {
  static constexpr int kFeatures = 6;
  // The log feature's floor: a category none of the newest events were in
  // (one event of kRecentEvents is a share of 0.1).
  static constexpr double kShareFloor = 0.01;
  static constexpr size_t kCandidates = 100;    // the model's best items it reorders
  // The user's newest events whose categories count: the session they are
  // in. (5 was tried: better offline and on a small generated shop, 0.007-
  // 0.016 lower hit@20 through the API on both electronics shops.)
  static constexpr size_t kRecentEvents = 10;

  // One candidate's signals.
  struct Candidate {
    double score;             // the model's score (inner product)
    double category_share;    // share of the user's newest events in the item's category (0: none)
    double log_users;         // log(1 + users who chose the item in training)
    bool had = false;         // the user already interacted with the item
  };
  // The features of candidates given in the model's order (best first).
  static std::vector<std::array<double, kFeatures>> Features(const std::vector<Candidate>& in_model_order);

  std::array<double, kFeatures> mean{}, scale{}, weight{};
  double bias = 0;
  // The newest events its category shares count (kRecentEvents when fitted
  // by this build; a model file keeps the one it was fitted on).
  size_t recent_events = kRecentEvents;

  // Higher is better; the logit of "the user chooses it".
  double Score(const std::array<double, kFeatures>& features) const;
  // Positions of `in_model_order` in the reranked order (stable for ties).
  std::vector<size_t> Order(const std::vector<Candidate>& in_model_order) const;

  boost::json::object ToJson() const;
  // The reranker in a model file's metadata JSON ("reranker"); nullopt when
  // it has none or it is malformed. Features are matched by name: one a
  // file does not name (written before it existed) weighs nothing.
  static std::optional<Reranker> FromMetadata(std::string_view metadata_json);
};

// What the reranker's signals read from a data set: users per item and
// what each user had (from data.train) and each user's newest
// `recent_events` events' categories (from data.train_events). Built once per data set; Candidates is
// thread-safe.
class RerankerSignals {
 public:
  // `item_category`: a category number per item (−1: none); `users`: the
  // users Candidates will be asked for (their events are indexed);
  // `recent_events`: the window of the reranker that will read them.
  RerankerSignals(const Dataset& data, const std::vector<int32_t>& item_category,
                  const std::vector<int32_t>& users, size_t recent_events = Reranker::kRecentEvents);
  // The candidates of user u's items in the model's order (score: the
  // model's inner product).
  std::vector<Reranker::Candidate> Candidates(int32_t u,
                                              const std::vector<std::pair<double, int32_t>>& model_order) const;

 private:
  const std::vector<int32_t>& item_category_;
  const UserItems& had_;
  std::vector<double> log_users_;
  std::vector<std::vector<std::pair<int32_t, double>>> recent_share_;  // per indexed user: (category, share)
  std::vector<int32_t> slot_;  // user → index into recent_share_, −1 when not indexed
};

struct RerankerFit {
  std::optional<Reranker> reranker;  // set when it ranks better than the model, cross-fitted
  // Over the sampled validation users, the model's order and the reranked
  // one (each half judged by the weights fitted on the other half).
  double ndcg_at_10 = 0, reranked_ndcg_at_10 = 0, hit_rate_at_20 = 0, reranked_hit_rate_at_20 = 0;
  double precision_at_10 = 0, reranked_precision_at_10 = 0;
  int64_t users = 0;
  std::string reason;  // why it was not kept (empty when kept)
  boost::json::object ToJson() const;
};

// Fits on the users of `data.test` (up to a bound that keeps the scan of
// users × items cheap): each user's kCandidates best items by
// `users`·`items` (n × dim, row-major, as served: steered when serving
// steers) but their `excluded` ones (null: every training item; as served:
// training's ServedMask), labelled by data.test. `item_category`: a category
// number per item (−1: none). A user's newest events are data.train_events.
// `step_aside` (a job's) is asked between blocks of users scanned.
RerankerFit FitReranker(const Dataset& data, const float* users, const float* items, int dim,
                        const std::vector<int32_t>& item_category, uint64_t seed,
                        const UserItems* excluded = nullptr, StepAside* step_aside = nullptr);

}  // namespace embedrec::ml
