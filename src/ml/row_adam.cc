#include "ml/row_adam.h"

#include "common/cpu_clones.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "ml/graph.h"

namespace embedrec::ml {

namespace {

constexpr double kB1 = 0.9, kB2 = 0.999, kEps = 1e-8;
constexpr int64_t kWindow = 300;  // q^300 ≈ 2e-14 (q = 0.9/√0.999 ≈ 0.9005)
constexpr int64_t kDecayTable = 4096;  // β^s tabled below this many missed steps

}  // namespace

RowAdam::RowAdam(int64_t rows, int d)
    : d_(d),
      m_(static_cast<size_t>(rows) * d, 0.0f),
      v_(static_cast<size_t>(rows) * d, 0.0f),
      current_(static_cast<size_t>(rows), 0),
      drift_(1, 0.0),
      drift_eps_(1, 0.0),
      decay1_(kDecayTable),
      decay2_(kDecayTable) {
  PreferHugePages(m_);
  PreferHugePages(v_);
  PreferHugePages(current_.data(), current_.size() * sizeof(int64_t));
  for (int64_t s = 0; s < kDecayTable; ++s) {
    decay1_[s] = static_cast<float>(std::pow(kB1, static_cast<double>(s)));
    decay2_[s] = static_cast<float>(std::pow(kB2, static_cast<double>(s)));
  }
}

namespace {

// The inner loops, compiled for AVX2+FMA and for any x86-64, picked at load
// time. v = 0 implies m = 0 (no gradient yet), and ε > 0: no division by zero.
EMBEDREC_CPU_CLONES void CatchUpKernel(
    float* w, float* m, float* v, int64_t n, float drift, float eps, float f1, float f2) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    w[j] -= drift * m[j] / (std::sqrt(v[j]) + eps);
    m[j] *= f1;
    v[j] *= f2;
  }
}

EMBEDREC_CPU_CLONES void StepKernel(
    float* w, float* g, float* m, float* v, int64_t n, float step_size, float b1, float b2,
    float inv_sqrt_bc2, float eps) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const float gj = g[j];
    m[j] = b1 * m[j] + (1 - b1) * gj;
    v[j] = b2 * v[j] + (1 - b2) * gj * gj;
    w[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_sqrt_bc2 + eps);
    g[j] = 0;
  }
}

}  // namespace

void RowAdam::CatchUpRow(int32_t r, float* w) {
  const int64_t t = current_[r];
  if (t == step_) return;
  current_[r] = step_;
  const int64_t s = step_ - t;
  const float drift = static_cast<float>(drift_[t]);
  const bool tabled = s < static_cast<int64_t>(decay1_.size());
  const float f1 = tabled ? decay1_[s] : static_cast<float>(std::pow(kB1, static_cast<double>(s)));
  const float f2 = tabled ? decay2_[s] : static_cast<float>(std::pow(kB2, static_cast<double>(s)));
  // ε relative to √v, averaged over the missed steps as they weigh in the drift.
  const float eps = drift_[t] > 0 ? static_cast<float>(kEps * drift_eps_[t] / drift_[t])
                                  : static_cast<float>(kEps);
  const int64_t base = static_cast<int64_t>(r) * d_;
  CatchUpKernel(w + base, m_.data() + base, v_.data() + base, d_, drift, eps, f1, f2);
}

void RowAdam::PrefetchRows(const std::vector<int32_t>& rows, int64_t k, const float* w,
                           const float* grad) const {
  if (k >= static_cast<int64_t>(rows.size())) return;
  const int32_t r = rows[k];
  __builtin_prefetch(&current_[r], 1, 0);
  PrefetchRow(w, r, d_);
  PrefetchRow(m_.data(), r, d_);
  PrefetchRow(v_.data(), r, d_);
  if (grad) PrefetchRow(grad, r, d_);
}

void RowAdam::CatchUp(const std::vector<int32_t>& rows, float* w) {
  const int64_t n = static_cast<int64_t>(rows.size());
#pragma omp parallel for schedule(static) if (n * d_ >= kParallelMinWork)
  for (int64_t k = 0; k < n; ++k) {
    PrefetchRows(rows, k + kRowsAhead, w, nullptr);
    CatchUpRow(rows[k], w);
  }
}

void RowAdam::CatchUpAll(float* w) {
  const int64_t n = static_cast<int64_t>(current_.size());
#pragma omp parallel for schedule(static) if (n * d_ >= kParallelMinWork)
  for (int64_t r = 0; r < n; ++r) CatchUpRow(static_cast<int32_t>(r), w);
}

void RowAdam::Step(const std::vector<int32_t>& rows, float* w, float* grad, double lr) {
  StepRows(&rows, w, grad, false, lr);
}

void RowAdam::StepPacked(const std::vector<int32_t>& rows, float* w, float* packed, double lr) {
  StepRows(&rows, w, packed, true, lr);
}

void RowAdam::StepAll(float* w, float* grad, double lr) {
  CatchUpAll(w);  // a no-op per row already current (always, on a dense-only path)
  StepRows(nullptr, w, grad, false, lr);
}

void RowAdam::StepRows(const std::vector<int32_t>* rows, float* w, float* grad, bool packed,
                       double lr) {
  const int64_t step = ++step_;
  const double bc1 = 1 - std::pow(kB1, static_cast<double>(step));
  const double bc2 = 1 - std::pow(kB2, static_cast<double>(step));
  // This step's move for the rows that miss it: a(step)·q^(step − t).
  const double a = lr * std::sqrt(bc2) / bc1;
  const double q = kB1 / std::sqrt(kB2);
  // In √v's units, step j after t has ε·√(1−β2^step)·β2^(−j/2) in its denominator.
  const double eps_scale = std::sqrt(bc2);
  const double inv_sqrt_b2 = 1 / std::sqrt(kB2);
  drift_.push_back(0.0);
  drift_eps_.push_back(0.0);
  double qp = q, grow = inv_sqrt_b2;
  for (int64_t t = step - 1; t >= 0 && t >= step - kWindow; --t, qp *= q, grow *= inv_sqrt_b2) {
    drift_[t] += a * qp;
    drift_eps_[t] += a * qp * eps_scale * grow;
  }

  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1 / std::sqrt(bc2));
  const float b1 = static_cast<float>(kB1), b2 = static_cast<float>(kB2);
  const float eps = static_cast<float>(kEps);
  if (rows == nullptr) {  // every row, in contiguous chunks
    const int64_t size = static_cast<int64_t>(m_.size()), chunk = 16384;
#pragma omp parallel for schedule(static) if (size >= kParallelMinWork)
    for (int64_t lo = 0; lo < size; lo += chunk) {
      StepKernel(w + lo, grad + lo, m_.data() + lo, v_.data() + lo, std::min(size, lo + chunk) - lo,
                 step_size, b1, b2, inv_sqrt_bc2, eps);
    }
    std::fill(current_.begin(), current_.end(), step);
    return;
  }
  const int64_t n = static_cast<int64_t>(rows->size());
#pragma omp parallel for schedule(static) if (n * d_ >= kParallelMinWork)
  for (int64_t k = 0; k < n; ++k) {
    PrefetchRows(*rows, k + kRowsAhead, w, packed ? nullptr : grad);
    const int32_t r = (*rows)[k];
    current_[r] = step;
    const int64_t base = static_cast<int64_t>(r) * d_;
    float* g = grad + (packed ? k * d_ : base);
    StepKernel(w + base, g, m_.data() + base, v_.data() + base, d_, step_size, b1, b2, inv_sqrt_bc2,
               eps);
  }
}

}  // namespace embedrec::ml
