// Adam over the rows of an n × d matrix, at a cost that follows the rows a
// step touches rather than n.
//
// PyTorch's dense Adam moves every parameter at every step: where a step's
// gradient is zero, the moments decay (m ← β1·m, v ← β2·v) and the weight
// still moves by the decayed momentum. Skipping those rows (SparseAdam,
// "lazy" Adam) changes the optimiser and, measured on the 1.5M shop, cost
// BPR-MF 13–19 % of its quality. RowAdam skips them only until they are
// read: CatchUp applies a row's missed zero-gradient steps at once, in
// closed form, so a row read at step T holds what dense Adam would hold.
//
// The closed form: after s zero-gradient steps from step t the moments are
// β1^s·m and β2^s·v, and the weight has moved by (m/√v) · Σ_{j=1..s} a(t+j)·q^j
// with q = β1/√β2 and a(i) = lr·√(1−β2^i)/(1−β1^i) (the bias corrections).
// The only approximation is ε (1e-8), which does not factor out of the
// sum: it is replaced by its mean over the missed steps, weighted as they
// weigh in the drift (exact to first order). Tests compare the result with
// the dense optimiser.
#pragma once

#include <cstdint>
#include <vector>

namespace embedrec::ml {

class RowAdam {
 public:
  RowAdam(int64_t rows, int d);

  // Steps taken so far (the next Step is step() + 1).
  int64_t step() const { return step_; }

  // Brings `rows` of w (n × d) to the state dense Adam would hold after
  // step(): the steps they missed are applied with a zero gradient.
  // Distinct rows; parallel over them.
  void CatchUp(const std::vector<int32_t>& rows, float* w);
  // Every row (before reading all of w).
  void CatchUpAll(float* w);

  // One step: the caught-up `rows` move by their gradient rows (which are
  // then cleared); every other row has a zero gradient this step and will
  // take it on its next CatchUp. Distinct rows.
  void Step(const std::vector<int32_t>& rows, float* w, float* grad, double lr);
  // The same with rows[k]'s gradient at packed + k·d (a batch's gradient
  // kept in a small buffer of its own, not in rows of an n × d array).
  void StepPacked(const std::vector<int32_t>& rows, float* w, float* packed, double lr);
  // The same for every row (dense Adam's step, over contiguous memory).
  void StepAll(float* w, float* grad, double lr);

 private:
  // rows null: all; packed: grad holds rows[k]'s at k·d.
  void StepRows(const std::vector<int32_t>* rows, float* w, float* grad, bool packed, double lr);
  void CatchUpRow(int32_t r, float* w);
  // Row rows[k]'s state, weights and (when given) gradient asked for ahead
  // of their use; nothing past the list's end.
  void PrefetchRows(const std::vector<int32_t>& rows, int64_t k, const float* w,
                    const float* grad) const;

  int d_;
  int64_t step_ = 0;
  std::vector<float> m_, v_;
  std::vector<int64_t> current_;  // the step each row's state reflects
  // drift_[t] = Σ_{j≥1, t+j ≤ step()} a(t+j)·q^j: the move per unit of m/√v
  // of a row left at step t. Each step adds its term to the last kWindow
  // entries only: q^kWindow < 1e-13, older entries no longer change.
  std::vector<double> drift_;
  // The same sum weighting each step by its ε in √v's units: drift_eps_/drift_
  // is the mean ε the missed steps' denominators hold.
  std::vector<double> drift_eps_;
  std::vector<float> decay1_, decay2_;  // β1^s, β2^s for small s
};

}  // namespace embedrec::ml
