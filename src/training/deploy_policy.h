// Whether a trained model version goes live: the deploy gate, one object
// the training job asks (and a later A/B scheduler can replace or wrap).
//
// The default gate, in order: not when the request says auto_deploy false;
// not when the new version's validation ndcg@10 (as served: reranked when it
// has a reranker) does not beat popularity's on the same split; yes for a
// tenant's first model, or without a validation split; yes when it is at
// least (1 − tolerance) × the deployed version's (on the same split, or the
// figure recorded at its own validation when it was refit on all data);
// otherwise not. A version not deployed stays standby with the reason.
//
// Thread safety: Decide is const and pure.
#pragma once

#include <optional>
#include <string>

namespace embedrec::training {

struct GateInput {
  bool auto_deploy = true;
  double tolerance = 0.05;   // JobRequest::deploy_tolerance
  bool incremental = false;  // continues the deployed model
  bool is_popularity = false;  // popularity never has to beat itself
  std::optional<double> ndcg;             // the new version's validation ndcg@10, as served
  std::optional<double> popularity_ndcg;  // popularity's on the same split
  // The deployed version, if any: its version and ndcg@10, and whether that
  // figure was recorded at its own validation (it has seen this split).
  std::optional<std::string> deployed_version;
  std::optional<double> deployed_ndcg;
  bool deployed_ndcg_recorded = false;
};

struct GateDecision {
  bool deploy = false;
  std::string reason;
};

class DeployPolicy {
 public:
  virtual ~DeployPolicy() = default;
  virtual GateDecision Decide(const GateInput& in) const;
};

}  // namespace embedrec::training
