#include "ann/exact_scan.h"

#include "ann/bf16_scan.h"

#include <algorithm>
#include <cmath>

namespace embedrec::ann {

ExactScanner::ExactScanner(const float* rows, int64_t n, int d)
    : n_(n), d_(d), rows_(rows, rows + n * d) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  chunks_.assign(static_cast<size_t>(chunks) * d * kChunk, 0);
  for (int64_t i = 0; i < n; ++i) {
    PutBf16Row(rows + i * d, d, i, chunks_.data());
    max_norm_ = std::max(max_norm_, std::sqrt(Dot(rows + i * d, rows + i * d, d)));
  }
}

std::vector<std::pair<int64_t, float>> ExactScanner::TopK(
    const float* q, int k, const std::function<bool(int64_t)>* allowed) const {
  const int64_t n = n_;
  if (k <= 0 || n <= 0) return {};
  thread_local std::vector<float> approx;
  approx.resize((n + kChunk - 1) / kChunk * kChunk);
  for (int64_t c = 0; c * kChunk < n; ++c) {
    ChunkScores(chunks_.data() + c * d_ * kChunk, d_, q, approx.data() + c * kChunk);
  }
  const float delta = std::ldexp(std::sqrt(Dot(q, q, d_)) * max_norm_, -8);
  return TopKOfCandidates(approx.data(), n, nullptr, rows_.data(), nullptr, d_, q, k, delta, allowed);
}

}  // namespace embedrec::ann
