#include "ann/exact_scan.h"

#include "ann/shortlist.h"

#include <algorithm>
#include <cmath>

namespace embedrec::ann {

ExactScanner::ExactScanner(const float* rows, int64_t n, int d)
    : n_(n), d_(d), rows_(rows, rows + n * d), int8_(d, n) {
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rows + i * d;
    int8_.Put(r, i);
    float l1 = 0;
    for (int j = 0; j < d; ++j) l1 += std::abs(r[j]);
    max_scale_ = std::max(max_scale_, int8_.scale(i));
    max_l1_ = std::max(max_l1_, l1);
  }
}

std::vector<std::pair<int64_t, float>> ExactScanner::TopK(
    const float* q, int k, const std::function<bool(int64_t)>* allowed) const {
  const int64_t n = n_;
  if (k <= 0 || n <= 0) return {};
  thread_local std::vector<float> approx;
  thread_local Int8Query q8;
  QuantizeQuery(q, d_, &q8);
  approx.resize((n + kChunk - 1) / kChunk * kChunk);
  for (int64_t c = 0; c * kChunk < n; ++c) int8_.ChunkScores(c, q8, approx.data() + c * kChunk);
  float q_l1 = 0;
  for (int j = 0; j < d_; ++j) q_l1 += std::abs(q[j]);
  // q·x − q̃·x̃ = q·(x − x̃) + (q − q̃)·x̃, each coordinate off by at most half
  // a step (s/2; x̃'s l1 is at most x's plus d half steps); then the float
  // conversion and scaling of the integer sum (a few ulps of its largest
  // possible size, 127·s_q·127·s_r·d).
  const float rounding = 0.5f * max_scale_ * q_l1 + 0.5f * q8.scale * (max_l1_ + 0.5f * max_scale_ * d_);
  const float largest = 127.0f * q8.scale * 127.0f * max_scale_ * static_cast<float>(Int8Dims(d_));
  const float delta = 1.001f * rounding + std::ldexp(largest, -20);
  return TopKOfCandidates(approx.data(), n, nullptr, rows_.data(), nullptr, d_, q, k, delta, allowed);
}

}  // namespace embedrec::ann
