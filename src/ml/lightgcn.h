// LightGCN (He et al., SIGIR 2020), forward and backward written by hand.
//
//   E(0): ego embeddings, n × d (users then items), normal(0, 0.1)
//   E(k+1) = Â E(k), k < K;  final = (E(0) + … + E(K)) / (K + 1);  score = dot product
//   loss per batch = mean over (u, i, j) of softplus(s_uj − s_ui)
//                    + reg · ½ (‖e0_u‖² + ‖e0_i‖² + Σ_j ‖e0_j‖²) / batch
//   optimiser: Adam (β = 0.9, 0.999, ε = 1e-8) over all of E(0), as PyTorch's.
//
// What a step computes, exactly but no more: the loss needs final rows of
// the batch's nodes B only, so layer k is computed on N^(K−k)(B) (the nodes
// within K−k hops). The gradient is dE(0) = (1/(K+1)) Σ_k Â^k G with G
// non-zero on B only (Â is symmetric), evaluated by Horner's rule where
// each product skips the zero rows of its input. Tests check it against
// finite differences and a plain full-propagation reference.
#pragma once

#include <cstdint>
#include <vector>

#include "ml/graph.h"
#include "ml/model.h"

namespace embedrec::ml {

// The numerical core, exposed for tests and benchmarks.
class LightGcnCore {
 public:
  LightGcnCore(const NormalizedGraph* graph, int d, int layers, uint64_t seed);

  int d() const { return d_; }
  int n() const { return graph_->n(); }
  std::vector<float>& ego() { return ego_; }  // E(0), n × d

  // One batch: loss (BPR + reg) and its gradient with respect to E(0),
  // written to grad() (n × d; rows outside N^K(B) are zero). `neg` holds
  // negatives_per_pos entries per positive; items as item indices.
  double LossAndGradient(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                         const std::vector<int32_t>& neg, double reg);
  // The same with full propagations and no sparsity shortcuts (tests).
  double LossAndGradientReference(const std::vector<int32_t>& users,
                                  const std::vector<int32_t>& pos,
                                  const std::vector<int32_t>& neg, double reg);
  std::vector<float>& grad() { return grad_; }
  // False when the last LossAndGradient left some rows of grad() out (its
  // sparse path); true when every row was computed.
  bool grad_rows_all() const { return grad_rows_all_; }

  // One Adam step with grad() (then cleared). `step` counts from 1.
  void AdamStep(double lr, int64_t step);

  // Final embeddings of every node (n × d).
  void FullForward(std::vector<float>* final_emb);

 private:
  // The sorted list of nodes within one hop of `nodes`; `all` when that is
  // (nearly) every node, in which case the list is empty.
  void Expand(const std::vector<int32_t>& nodes, std::vector<int32_t>* out, bool* all);
  double BprLoss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                 const std::vector<int32_t>& neg, double reg, const float* fin, float* g);

  const NormalizedGraph* graph_;
  int d_, layers_;
  std::vector<float> ego_, grad_, adam_m_, adam_v_;
  // E(1..K), valid on the rows last computed; the backward reuses the
  // storage of the first two as its ping-pong buffers.
  std::vector<std::vector<float>> layer_;
  std::vector<float> fin_, g_;
  std::vector<uint8_t> mark_;
  std::vector<float> coef_;                     // BprLoss scratch: dL/dscore per pair
  std::vector<double> pair_loss_, sample_reg_;  // BprLoss scratch: terms summed in order
  bool grad_rows_all_ = false;
};

}  // namespace embedrec::ml
