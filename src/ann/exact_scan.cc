#include "ann/exact_scan.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace embedrec::ann {

namespace {

// float32 → bfloat16 with round-to-nearest-even (finite values).
uint16_t ToBf16(float x) {
  uint32_t b = std::bit_cast<uint32_t>(x);
  b += 0x7FFF + ((b >> 16) & 1);
  return static_cast<uint16_t>(b >> 16);
}

// Approximate scores of one block: out[i] = Σ_j q[j] · bf16 block[j][i], 64
// items at a time in registers (eight 8-wide accumulators): one load and one
// fused multiply-add per 8 items and dimension, scores stored once. Cloned
// for AVX2/FMA and a baseline: fast where it can be, runs everywhere.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void BlockScores(const uint16_t* block, int d, const float* q, float* out) {
  constexpr int64_t B = ExactScanner::kBlock;
  constexpr int kLanes = 64;
  for (int64_t c = 0; c < B; c += kLanes) {
    float acc[kLanes] = {};
    for (int j = 0; j < d; ++j) {
      const float qj = q[j];
      const uint16_t* col = block + j * B + c;
#pragma omp simd
      for (int t = 0; t < kLanes; ++t) {
        acc[t] += qj * std::bit_cast<float>(static_cast<uint32_t>(col[t]) << 16);
      }
    }
    for (int t = 0; t < kLanes; ++t) out[c + t] = acc[t];
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
float ChunkMax(const float* x, int64_t n) {
  float m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

float Dot(const float* a, const float* b, int d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

using Scored = std::pair<float, int64_t>;
bool Better(const Scored& a, const Scored& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
}

// The `w` best of `scores` (approximate), best first.
void Shortlist(const std::vector<float>& scores, int64_t n, int64_t w, std::vector<Scored>* out) {
  out->clear();
  if (w >= n) {
    out->resize(n);
    for (int64_t i = 0; i < n; ++i) (*out)[i] = {scores[i], i};
    std::sort(out->begin(), out->end(), Better);
    return;
  }
  // A heap of the best w (worst on top); 64-item chunks that cannot beat it are skipped.
  for (int64_t c0 = 0; c0 < n; c0 += 64) {
    const int64_t c1 = std::min(n, c0 + 64);
    if (static_cast<int64_t>(out->size()) == w && ChunkMax(scores.data() + c0, c1 - c0) < out->front().first) {
      continue;
    }
    for (int64_t i = c0; i < c1; ++i) {
      Scored s{scores[i], i};
      if (static_cast<int64_t>(out->size()) < w) {
        out->push_back(s);
        std::push_heap(out->begin(), out->end(), Better);
      } else if (Better(s, out->front())) {
        std::pop_heap(out->begin(), out->end(), Better);
        out->back() = s;
        std::push_heap(out->begin(), out->end(), Better);
      }
    }
  }
  std::sort(out->begin(), out->end(), Better);
}

}  // namespace

ExactScanner::ExactScanner(const float* rows, int64_t n, int d)
    : n_(n), d_(d), rows_(rows, rows + n * d) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  blocks_.assign(static_cast<size_t>(blocks) * d * kBlock, 0);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t* block = blocks_.data() + (i / kBlock) * d * kBlock;
    for (int j = 0; j < d; ++j) block[j * kBlock + i % kBlock] = ToBf16(rows[i * d + j]);
    max_norm_ = std::max(max_norm_, std::sqrt(Dot(rows + i * d, rows + i * d, d)));
  }
}

std::vector<std::pair<int64_t, float>> ExactScanner::TopK(
    const float* q, int k, const std::function<bool(int64_t)>* allowed) const {
  std::vector<std::pair<int64_t, float>> out;
  const int64_t n = n_;
  if (k <= 0 || n <= 0) return out;
  thread_local std::vector<float> approx;
  thread_local std::vector<Scored> shortlist, exact;
  approx.resize((n + kBlock - 1) / kBlock * kBlock);
  for (int64_t b = 0; b * kBlock < n; ++b) {
    BlockScores(blocks_.data() + b * d_ * kBlock, d_, q, approx.data() + b * kBlock);
  }
  const float delta = std::ldexp(std::sqrt(Dot(q, q, d_)) * max_norm_, -8);
  for (int64_t w = std::max<int64_t>(4 * k, 64);; w *= 4) {
    Shortlist(approx, n, w, &shortlist);
    // The best approximate score left out (−∞ when every row is in).
    const float left_out = w >= n ? -std::numeric_limits<float>::infinity() : shortlist.back().first;
    exact.clear();
    for (const auto& [s, i] : shortlist) exact.emplace_back(Dot(rows_.data() + i * d_, q, d_), i);
    std::sort(exact.begin(), exact.end(), Better);
    out.clear();
    for (const auto& [s, i] : exact) {
      if (static_cast<int>(out.size()) >= k) break;
      if (!allowed || (*allowed)(i)) out.emplace_back(i, s);
    }
    if (w >= n) return out;  // every row considered
    if (static_cast<int>(out.size()) == k && out.back().second > left_out + delta) return out;
  }
}

}  // namespace embedrec::ann
