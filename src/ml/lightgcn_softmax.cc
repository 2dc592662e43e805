// The sampled-softmax loss of LightGcnCore (ml/lightgcn.h): negatives shared
// by the batch, so that its scores and gradients are three matrix products
// (BLAS) rather than one dot product per pair.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ml/lightgcn.h"

namespace embedrec::ml {

namespace {

constexpr int64_t kSoftmaxBlock = 256;  // users per sgemm call
constexpr int64_t kSoftmaxGroups = 16;  // partials of the negatives' gradient, at most

bool ByItem(const std::pair<int32_t, int32_t>& a, const std::pair<int32_t, int32_t>& b) {
  return a.first < b.first;
}

}  // namespace

double LightGcnCore::Loss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                          const std::vector<int32_t>& neg, double reg, const float* fin, float* g) {
  return temperature_ > 0 ? SoftmaxLoss(users, pos, neg, reg, fin, g)
                          : BprLoss(users, pos, neg, reg, fin, g);
}

double LightGcnCore::SoftmaxLoss(const std::vector<int32_t>& users,
                                 const std::vector<int32_t>& pos,
                                 const std::vector<int32_t>& neg, double reg, const float* fin,
                                 float* g) {
  const int d = d_;
  const int32_t nu = graph_->n_users;
  const int64_t b = static_cast<int64_t>(users.size());
  const int64_t m = static_cast<int64_t>(neg.size());
  const int mi = static_cast<int>(m);
  const float inv_t = static_cast<float>(1.0 / temperature_);
  auto row = [d](const float* x, int64_t v) { return x + v * d; };
  auto mrow = [d](float* x, int64_t v) { return x + v * d; };

  // The users' and negatives' final rows side by side, for BLAS.
  sm_users_.resize(b * d);
  sm_neg_.resize(m * d);
#pragma omp parallel for schedule(static) if (b * d >= kParallelMinWork)
  for (int64_t t = 0; t < b; ++t) {
    std::memcpy(mrow(sm_users_.data(), t), row(fin, users[t]), sizeof(float) * d);
  }
  for (int64_t j = 0; j < m; ++j) {
    std::memcpy(mrow(sm_neg_.data(), j), row(fin, nu + neg[j]), sizeof(float) * d);
  }

  // Block by block of users (rows fixed by the data, not by the thread
  // count): their logits against every negative, each row's softmax with its
  // positive (a negative that is the row's own positive left out), then the
  // gradients, as single-threaded sgemm calls (OpenBLAS stays on one thread
  // inside a parallel region). A group of blocks adds its share of the
  // negatives' gradient to a partial of its own, summed in group order, so
  // the result does not depend on the thread count, and only a block's
  // logits are held at a time (not batch × negatives).
  // Gradients (mean over the batch, c = 1 / (τ b)): users c·(P N + (p_pos − 1) pos),
  // negatives c·Pᵀ U, positives c·(p_pos − 1) user.
  sm_sorted_neg_.resize(m);
  for (int64_t j = 0; j < m; ++j) sm_sorted_neg_[j] = {neg[j], static_cast<int32_t>(j)};
  std::sort(sm_sorted_neg_.begin(), sm_sorted_neg_.end());
  const float c = inv_t / static_cast<float>(b);
  const int64_t blocks = (b + kSoftmaxBlock - 1) / kSoftmaxBlock;
  const int64_t groups = std::min(blocks, kSoftmaxGroups);
  const int64_t per_group = (blocks + groups - 1) / groups;
  pair_loss_.resize(b);
  sm_ppos_.resize(b);
  sm_gu_.assign(b * d, 0.0f);
  sm_gn_.assign(groups * m * d, 0.0f);  // a partial per group; the sum lands in the first
#pragma omp parallel if (groups > 1)
  {
    std::vector<float> logits(kSoftmaxBlock * m);
#pragma omp for schedule(dynamic)
    for (int64_t grp = 0; grp < groups; ++grp) {
      float* part = sm_gn_.data() + grp * m * d;
      const int64_t last = std::min(blocks, (grp + 1) * per_group);
      for (int64_t q = grp * per_group; q < last; ++q) {
        const int64_t r0 = q * kSoftmaxBlock;
        const int rows = static_cast<int>(std::min(kSoftmaxBlock, b - r0));
        const float* block_users = sm_users_.data() + r0 * d;
        if (m > 0) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, mi, d, inv_t, block_users, d,
                      sm_neg_.data(), d, 0.0f, logits.data(), mi);
        }
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t t = r0 + i;
          float* l = logits.data() + i * m;
          const float sp = Dot(row(sm_users_.data(), t), row(fin, nu + pos[t]), d) * inv_t;
          float top = sp;
#pragma omp simd reduction(max : top)
          for (int64_t j = 0; j < m; ++j) top = std::max(top, l[j]);
          float z = 0;
#pragma omp simd reduction(+ : z)
          for (int64_t j = 0; j < m; ++j) {
            l[j] = std::exp(l[j] - top);
            z += l[j];
          }
          // The row's own positive is no negative (looked up, not scanned:
          // a scan of the negatives per row cost as much as the exponentials).
          const auto own = std::equal_range(sm_sorted_neg_.begin(), sm_sorted_neg_.end(),
                                            std::pair<int32_t, int32_t>(pos[t], 0), ByItem);
          for (auto it = own.first; it != own.second; ++it) {
            z -= l[it->second];
            l[it->second] = 0;
          }
          const float e_pos = std::exp(sp - top);
          z += e_pos;
          const float inv_z = 1.0f / z;
#pragma omp simd
          for (int64_t j = 0; j < m; ++j) l[j] *= inv_z;  // now probabilities
          sm_ppos_[t] = e_pos * inv_z;
          pair_loss_[t] = -static_cast<double>(sp - top) + std::log(static_cast<double>(z));
        }
        if (m > 0) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, mi, c, logits.data(), mi,
                      sm_neg_.data(), d, 0.0f, sm_gu_.data() + r0 * d, d);
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mi, d, rows, c, logits.data(), mi,
                      block_users, d, 1.0f, part, d);
        }
      }
    }
  }
  for (int64_t grp = 1; grp < groups; ++grp) {
    const float* part = sm_gn_.data() + grp * m * d;
    for (int64_t k = 0; k < m * d; ++k) sm_gn_[k] += part[k];
  }
  // Into g in a fixed order (rows repeat).
  double loss = 0;
  for (int64_t t = 0; t < b; ++t) {
    loss += pair_loss_[t];
    const float w = c * (sm_ppos_[t] - 1.0f);
    const float* u = row(sm_users_.data(), t);
    const float* p = row(fin, nu + pos[t]);
    const float* gu_neg = row(sm_gu_.data(), t);
    float* gu = mrow(g, users[t]);
    float* gp = mrow(g, nu + pos[t]);
    for (int k = 0; k < d; ++k) {
      gu[k] += gu_neg[k] + w * p[k];
      gp[k] += w * u[k];
    }
  }
  for (int64_t j = 0; j < m; ++j) {
    const float* gn = row(sm_gn_.data(), j);
    float* gj = mrow(g, nu + neg[j]);
    for (int k = 0; k < d; ++k) gj[k] += gn[k];
  }

  if (reg == 0) return loss / static_cast<double>(b);  // no L2 terms (or the caller's)
  // L2 on the batch's ego embeddings: users and positives per occurrence,
  // each shared negative once.
  const float rc = static_cast<float>(reg / b);
  double reg_sum = 0;
  auto add_reg = [&](int32_t v) {
    const float* e = row(ego_.data(), v);
    float* gr = mrow(grad_.data(), v);
    reg_sum += Dot(e, e, d);
    for (int k = 0; k < d; ++k) gr[k] += rc * e[k];
  };
  for (int64_t t = 0; t < b; ++t) {
    add_reg(users[t]);
    add_reg(nu + pos[t]);
  }
  for (int32_t j : neg) add_reg(nu + j);
  return loss / static_cast<double>(b) + reg * 0.5 * reg_sum / static_cast<double>(b);
}

}  // namespace embedrec::ml
