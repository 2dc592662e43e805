// Full-ranking evaluation, with the definitions of the LightGCN reference
// code so that figures compare: for every user with held-out items, every
// item not in the user's training set is scored (dot product) and ranked.
//
//   recall@k    = hits in the top k / |held-out items|
//   precision@k = hits in the top k / k
//   ndcg@k      = DCG of the top k (binary relevance, 1/log2(rank+1)) divided by
//                 the ideal DCG over min(k, |held-out items|) positions
//   hit_rate@k  = 1 when the top k holds at least one held-out item
//   mrr@k       = 1 / rank of the first held-out item in the top k (0 if none)
// each averaged over the evaluated users, and
//   coverage@k  = distinct items in anyone's top k / number of items.
// Ties in score rank the lower item index first.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/step_aside.h"
#include "ml/dataset.h"

namespace embedrec::ml {

struct Metrics {
  std::map<std::string, double> values;  // "recall@20" → 0.1916, ...
  int64_t users = 0;                     // users evaluated
  int64_t population = 0;                // users with held-out items
  // For a sample of the population (users < population): each mean's
  // standard error (with the finite-population correction); empty otherwise.
  std::map<std::string, double> std_errors;
  double Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? 0.0 : it->second;
  }
};

// Makes Evaluate rank a uniform random sample of `max_users` of the users
// with held-out items (the same sample on every call, so that evaluations
// compare: early stopping, the deploy gate), when there are more; full
// ranking costs users × items, a fixed sample only items.
void SampleEvalUsers(Dataset* data, int64_t max_users, uint64_t seed);

// `user_emb`: n_users × d, `item_emb`: n_items × d (row-major). Ranks
// against data.test (data.eval_users of them when set), excluding each
// user's `excluded` items (null: data.train's, the reference evaluation's;
// training's ServedMask: what serving excludes). Scores with OpenBLAS sgemm
// in blocks of users; top-k selection in parallel (OpenMP). `step_aside`
// (a job's, common/step_aside.h) is asked between two blocks.
Metrics Evaluate(const Dataset& data, const float* user_emb, const float* item_emb, int d,
                 const std::vector<int>& ks, const UserItems* excluded = nullptr, StepAside* step_aside = nullptr);

// The same metrics for one user from a ranked list (tests and callers that
// rank themselves): `ranked` holds item indices best first (at least max k).
void AddUserMetrics(const std::vector<int32_t>& ranked, const int32_t* relevant_begin,
                    const int32_t* relevant_end, const std::vector<int>& ks,
                    std::map<std::string, double>* sums);

}  // namespace embedrec::ml
