#include "training/served_judgement.h"

#include <algorithm>

#include "ml/recency.h"

namespace embedrec::training {

ServedJudgement JudgeAsServed(const ml::Dataset& data, const ml::Model& model, ml::ModelType type,
                              const JudgeOptions& opt) {
  ServedJudgement j;
  std::vector<int> ks = opt.ks;
  for (int k : {10, 20}) {
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  }
  std::sort(ks.begin(), ks.end());
  const int dim = model.dim();
  const float* items = model.item_embeddings().data();
  // As served: only what serving leaves out of a user's list is masked, in
  // the model's own ranking and in the second stage's candidates.
  const ml::UserItems* excluded = opt.excluded;
  j.metrics = ml::Evaluate(data, model.user_embeddings().data(), items, dim, ks, excluded, opt.step_aside);
  j.plain_ndcg = j.metrics.Get("ndcg@10");
  // Do a user's newest events predict what comes next in this data? Then
  // serving steers known users by them too.
  const bool personal = type != ml::ModelType::kPopularity;
  if (personal && !data.train_events.empty()) {
    auto steered = ml::SteeredUserVectors(data, model, ml::Steering::kSeenShare);
    j.steered_ndcg = ml::Evaluate(data, steered.data(), items, dim, {10}, excluded, opt.step_aside).Get("ndcg@10");
    if (*j.steered_ndcg > j.plain_ndcg * (1 + ml::Steering::kMinSeenGain)) {
      j.recent_share = ml::Steering::kSeenShare;
      j.steered_users = std::move(steered);
      j.metrics = ml::Evaluate(data, j.steered_users.data(), items, dim, ks, excluded, opt.step_aside);
    }
  }
  j.ndcg = j.metrics.Get("ndcg@10");
  j.hit_rate = j.metrics.Get("hit_rate@20");
  if (personal && opt.rerank) {
    static const std::vector<int32_t> kNone;
    j.rerank = ml::FitReranker(data, j.users(model), items, dim, opt.item_categories ? *opt.item_categories : kNone,
                               opt.seed, excluded, opt.step_aside);
    const ml::RerankerFit& r = *j.rerank;
    if (r.reranker && r.ndcg_at_10 > 0 && r.hit_rate_at_20 > 0) {
      j.ndcg *= r.reranked_ndcg_at_10 / r.ndcg_at_10;
      j.hit_rate *= r.reranked_hit_rate_at_20 / r.hit_rate_at_20;
    }
  }
  return j;
}

}  // namespace embedrec::training
