// LightGCN (He et al., SIGIR 2020), forward and backward written by hand.
//
//   E(0): ego embeddings, n × d (users then items), normal(0, 0.1)
//   E(k+1) = Â E(k), k < K;  final = (E(0) + … + E(K)) / (K + 1);  score = dot product
//   loss per batch = mean over (u, i, j) of softplus(s_uj − s_ui)
//                    + reg · ½ (‖e0_u‖² + ‖e0_i‖² + Σ_j ‖e0_j‖²) / batch
//   or, with the sampled softmax (SetSoftmax), over the same scores s at a
//   temperature τ and uniform negatives N shared by the whole batch:
//     mean over (u, i) of −s_ui/τ + log(e^(s_ui/τ) + Σ_{j∈N, j≠i} e^(s_uj/τ))
//     + the same L2 (each shared negative counted once)
//   (Gowalla's recall@20 0.18 in 10 minutes, where BPR with one negative
//   had 0.172 after 30: docs/benchmarks.md, "Time to quality on Gowalla").
//   optimiser: Adam (β = 0.9, 0.999, ε = 1e-8) over all of E(0), as PyTorch's.
//
// What a step computes, exactly but no more: the loss needs final rows of
// the batch's nodes B only, so layer k is computed on N^(K−k)(B) (the nodes
// within K−k hops). The gradient is dE(0) = (1/(K+1)) Σ_k Â^k G with G
// non-zero on B only (Â is symmetric), evaluated by Horner's rule where
// each product skips the zero rows of its input. Tests check it against
// finite differences and a plain full-propagation reference.
//
// That exact step costs the batch's K-hop neighbourhood, which on a large
// graph is most of it: an epoch then costs (interactions / batch) × graph,
// quadratic in the data. The sampled step (walks > 0) costs the batch only:
//   forward  final(v) ≈ H(v) + (E0(v) − E0ref(v)) / (K+1), where H = the
//            final embeddings and E0ref = E(0) at the last Refresh (a few
//            per epoch, one full propagation each): the neighbours' share
//            is as fresh as the last refresh, the node's own is live;
//   backward dE(0) = (1/(K+1)) Σ_k Â^k G estimated by random walks of K
//            hops, `walks` per occurrence of a node v in the batch (n_v in
//            all): the walk's node x at hop k receives
//            √(deg(v)/deg(x)) · G(v) / n_v, an unbiased estimate of
//            (Â^k G)(x) (Â^k = D^-½ A (D^-1 A)^(k-1) D^-½).
// Measured (docs/benchmarks.md): as good as the exact step on a 150K-
// interaction shop, not on a 1.5M one; opt-in (CLI --walks) until it is.
// The optimiser is RowAdam (ml/row_adam.h): dense Adam's result at the
// cost of the rows a step touches.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ml/graph.h"
#include "ml/model.h"
#include "ml/row_adam.h"

namespace embedrec::ml {

// a · b over d floats (both losses' scores), written to vectorise.
inline float Dot(const float* a, const float* b, int d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

// The numerical core, exposed for tests and benchmarks.
class LightGcnCore {
 public:
  // walks = 0: the exact step; > 0: the sampled step with that many walks
  // per occurrence of a node in the batch.
  LightGcnCore(const NormalizedGraph* graph, int d, int layers, uint64_t seed, int walks = 0);

  int d() const { return d_; }
  int n() const { return graph_->n(); }
  // The sampled-softmax loss at this temperature instead of BPR: `neg` is
  // then one list of negatives shared by the batch, of any length.
  void SetSoftmax(double temperature) { temperature_ = temperature; }
  // E(0), n × d, as of the last step once Sync() has run (the optimiser
  // brings rows up to date only when they are read).
  std::vector<float>& ego() { return ego_; }
  void Sync();

  // One batch and its optimiser step; returns the batch's loss. The sampled
  // step needs a Refresh() before its first call.
  double TrainStep(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                   const std::vector<int32_t>& neg, double reg, double lr);
  // The sampled step's history: H and E0ref from the current E(0).
  void Refresh();

  // One batch: loss (BPR + reg) and its gradient with respect to E(0),
  // written to grad() (n × d; rows outside N^K(B) are zero). `neg` holds
  // negatives_per_pos entries per positive; items as item indices.
  double LossAndGradient(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                         const std::vector<int32_t>& neg, double reg);
  // The sampled step's loss and gradient (after a Refresh); each call draws
  // new walks. The rows it wrote are touched().
  double SampledLossAndGradient(const std::vector<int32_t>& users,
                                const std::vector<int32_t>& pos,
                                const std::vector<int32_t>& neg, double reg);
  const std::vector<int32_t>& touched() const { return touched_; }
  // The same with full propagations and no sparsity shortcuts (tests).
  double LossAndGradientReference(const std::vector<int32_t>& users,
                                  const std::vector<int32_t>& pos,
                                  const std::vector<int32_t>& neg, double reg);
  std::vector<float>& grad() { return grad_; }
  // False when the last LossAndGradient left some rows of grad() out (its
  // sparse path); true when every row was computed.
  bool grad_rows_all() const { return grad_rows_all_; }

  // One Adam step of every row with grad() (then cleared).
  void AdamStep(double lr);

  // Final embeddings of every node (n × d), from the current E(0).
  void FullForward(std::vector<float>* final_emb);

 private:
  // The sorted list of nodes within one hop of `nodes`; `all` when that is
  // (nearly) every node, in which case the list is empty.
  void Expand(const std::vector<int32_t>& nodes, std::vector<int32_t>* out, bool* all);
  // The batch's loss from its final rows `fin`; adds dLoss/dfinal to `g`
  // and the L2 term's gradient to grad_. Loss picks BPR or the softmax.
  double Loss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
              const std::vector<int32_t>& neg, double reg, const float* fin, float* g);
  double BprLoss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                 const std::vector<int32_t>& neg, double reg, const float* fin, float* g);
  double SoftmaxLoss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                     const std::vector<int32_t>& neg, double reg, const float* fin, float* g);
  // The L2 terms of a batch (reg / b per occurrence of a node in users, pos
  // and neg, b = users.size()) added to grad_ over `nodes` (the batch's
  // distinct nodes, sorted): rows walked in order, each once with its
  // count, instead of at random per occurrence. Returns the loss's L2 part.
  double AddL2InOrder(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                      const std::vector<int32_t>& neg, double reg, const std::vector<int32_t>& nodes);
  // Appends the marked nodes in node order, clearing their marks.
  void TakeMarked(std::vector<int32_t>* out);
  // The batch's distinct nodes, sorted (users, then items offset by n_users).
  void BatchNodes(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                  const std::vector<int32_t>& neg, std::vector<int32_t>* out);
  double SampledStep(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                     const std::vector<int32_t>& neg, double reg, double lr);

  const NormalizedGraph* graph_;
  int d_, layers_, walks_;
  uint64_t seed_;
  double temperature_ = 0;  // > 0: the sampled softmax
  std::vector<float> ego_, grad_;
  RowAdam adam_;
  std::vector<int32_t> batch_nodes_, touched_;
  // BPR-MF's step: each batch node's place in batch_nodes_ (stale outside
  // the batch), the batch's gradient by that place, and the map while the
  // loss runs (null otherwise: gradient rows by node).
  std::vector<int32_t> slot_;
  std::vector<float> packed_grad_;
  const int32_t* packed_slot_ = nullptr;
  // AddL2InOrder's count of each node's occurrences in the batch (zero
  // between steps).
  std::vector<int32_t> count_;
  // Sampled step: the history (H, E0ref) and each walk's node and weight.
  std::vector<float> hist_final_, hist_ego_;
  std::vector<int32_t> walk_node_, occurrences_;
  std::vector<int64_t> walk_begin_;  // node q's walks: [walk_begin_[q], walk_begin_[q+1])
  uint64_t walk_round_ = 0;
  std::vector<float> walk_weight_;
  // E(1..K), valid on the rows last computed; the backward reuses the
  // storage of the first two as its ping-pong buffers.
  std::vector<std::vector<float>> layer_;
  std::vector<float> fin_, g_;
  std::vector<uint8_t> mark_;
  std::vector<float> coef_;                     // BprLoss scratch: dL/dscore per pair
  std::vector<double> pair_loss_, sample_reg_;  // BprLoss scratch: terms summed in order
  // SoftmaxLoss scratch: the batch's user rows and negative rows, their
  // gradients (the negatives' as partials), each row's positive probability.
  std::vector<float> sm_users_, sm_neg_, sm_gu_, sm_gn_, sm_ppos_;
  std::vector<std::pair<int32_t, int32_t>> sm_sorted_neg_;  // (item, its place in the negatives), sorted
  bool grad_rows_all_ = false;
};

}  // namespace embedrec::ml
