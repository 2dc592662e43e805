// How a trained model is judged: as it will be served. On the validation
// split, ranking every item but those serving leaves out of a user's list
// (JudgeOptions::excluded: purchases, not the items a user only viewed), with
// the user vectors serving queries with (steered by a user's
// newest events where that predicts better in this data, ml/recency.h) and
// the second stage serving reorders the candidates with (ml/reranker.h,
// kept when it ranks better, cross-fitted). The auto search judges each
// trial by it and the job its chosen model (job_runner.cc), so that what is
// compared and gated is what customers are shown.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ml/evaluator.h"
#include "ml/model.h"
#include "ml/model_type.h"
#include "ml/reranker.h"

namespace embedrec::training {

// The cut-offs of a job's final metrics (the search judges its trials at
// them too, so that the job reuses its chosen trial's judgement).
inline const std::vector<int> kFinalKs = {5, 10, 20, 50};

struct JudgeOptions {
  std::vector<int> ks = {10, 20};  // the cut-offs of `metrics` (10 and 20 are always computed)
  bool rerank = true;              // fit the second stage (the job's `rerank`)
  const std::vector<int32_t>* item_categories = nullptr;  // per item, −1: none (the reranker's feature)
  uint64_t seed = 0;
  // What serving never shows a user again (training_data.h's ServedMask); null:
  // every training pair, the reference evaluation's mask.
  const ml::UserItems* excluded = nullptr;
  // A job's (common/step_aside.h): asked between blocks of the rankings.
  StepAside* step_aside = nullptr;
};

struct ServedJudgement {
  ml::Metrics metrics;      // of the user vectors served, before the second stage
  double plain_ndcg = 0;    // ndcg@10 of the model's own user vectors
  std::optional<double> steered_ndcg;  // and steered by the newest events (when the data has events)
  double recent_share = 0;             // the share serving steers with: 0 or ml::Steering::kSeenShare
  std::vector<float> steered_users;    // the served user vectors when steered (empty: the model's)
  std::optional<ml::RerankerFit> rerank;  // when asked (and the model is not popularity)
  // ndcg@10 and hit_rate@20 as served: `metrics`' scaled by the second
  // stage's gain on its sampled users when it is kept.
  double ndcg = 0, hit_rate = 0;
  bool reranked() const { return rerank && rerank->reranker; }

  const float* users(const ml::Model& model) const {
    return steered_users.empty() ? model.user_embeddings().data() : steered_users.data();
  }
};

// Requires a validation split (data.test not empty).
ServedJudgement JudgeAsServed(const ml::Dataset& data, const ml::Model& model, ml::ModelType type,
                              const JudgeOptions& opt);

}  // namespace embedrec::training
