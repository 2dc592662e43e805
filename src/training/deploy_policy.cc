#include "training/deploy_policy.h"

#include <cstdio>

namespace embedrec::training {

GateDecision DeployPolicy::Decide(const GateInput& in) const {
  GateDecision d;
  char buf[320];
  const char* judged = in.deployed_ndcg_recorded ? "at its own validation" : "on the same split";
  const bool beats_popularity = in.is_popularity || !in.ndcg || !in.popularity_ndcg ||
                                *in.ndcg > *in.popularity_ndcg;
  if (!in.auto_deploy) {
    d.reason = "auto_deploy is false";
  } else if (!beats_popularity) {
    std::snprintf(buf, sizeof buf,
                  "validation ndcg@10 %.4f does not beat popularity's %.4f on the same split; kept as "
                  "standby (%s; deploy it by hand to override)",
                  *in.ndcg, *in.popularity_ndcg,
                  in.deployed_version ? "the deployed model keeps serving" : "popularity keeps serving");
    d.reason = buf;
  } else if (!in.deployed_version) {
    d.deploy = true;
    d.reason = "first model of the tenant";
  } else if (!in.ndcg) {
    d.deploy = true;
    d.reason = "no validation split (validation_split 0): deployed without the gate";
  } else if (!in.deployed_ndcg || *in.ndcg >= *in.deployed_ndcg * (1 - in.tolerance)) {
    d.deploy = true;
    std::snprintf(buf, sizeof buf, "validation ndcg@10 %.4f vs %.4f for the deployed %s %s (tolerance %.0f%%)",
                  *in.ndcg, in.deployed_ndcg.value_or(0), in.deployed_version->c_str(), judged,
                  100 * in.tolerance);
    d.reason = buf;
  } else {
    std::snprintf(buf, sizeof buf,
                  "validation ndcg@10 %.4f is more than %.0f%% below the deployed %s's %.4f %s; "
                  "kept as standby (deploy it by hand to override)",
                  *in.ndcg, 100 * in.tolerance, in.deployed_version->c_str(), *in.deployed_ndcg, judged);
    d.reason = buf;
  }
  if (in.incremental && in.deployed_ndcg_recorded) {
    d.reason += " (incremental: the deployed model it continues saw this validation split, so its "
                "figures are optimistic)";
  }
  return d;
}

}  // namespace embedrec::training
