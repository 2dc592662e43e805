#include "ann/exact_scan.h"

#include <algorithm>

namespace embedrec::ann {

namespace {

// Scores of one block: out[i] = Σ_j q[j] · block[j][i], 64 items at a time
// in registers (eight 8-wide accumulators), so each dimension costs one load
// and one fused multiply-add per 8 items and the scores are stored once.
// Cloned for AVX2/FMA and a baseline: fast where it can be, runs everywhere.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void BlockScores(const float* block, int d, const float* q, float* out) {
  constexpr int64_t B = ExactScanner::kBlock;
  constexpr int kLanes = 64;
  for (int64_t c = 0; c < B; c += kLanes) {
    float acc[kLanes] = {};
    for (int j = 0; j < d; ++j) {
      const float qj = q[j];
      const float* col = block + j * B + c;
#pragma omp simd
      for (int t = 0; t < kLanes; ++t) acc[t] += qj * col[t];
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

}  // namespace

ExactScanner::ExactScanner(const float* rows, int64_t n, int d) : n_(n), d_(d) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  blocks_.assign(static_cast<size_t>(blocks) * d * kBlock, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float* block = blocks_.data() + (i / kBlock) * d * kBlock;
    for (int j = 0; j < d; ++j) block[j * kBlock + i % kBlock] = rows[i * d + j];
  }
}

std::vector<std::pair<int64_t, float>> ExactScanner::TopK(
    const float* q, int k, const std::function<bool(int64_t)>* allowed) const {
  std::vector<std::pair<int64_t, float>> out;
  const int64_t n = n_;
  if (k <= 0 || n <= 0) return out;
  thread_local std::vector<float> scores;
  thread_local std::vector<std::pair<float, int64_t>> order;
  scores.resize((n + kBlock - 1) / kBlock * kBlock);
  for (int64_t b = 0; b * kBlock < n; ++b) {
    BlockScores(blocks_.data() + b * d_ * kBlock, d_, q, scores.data() + b * kBlock);
  }
  auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  // Usually the first window holds k allowed items: keep just that window's
  // best in a heap (one comparison per item for most of them).
  const int64_t first = std::min<int64_t>(n, std::max<int64_t>(4 * k, 64));
  order.clear();
  for (int64_t c0 = 0; c0 < n; c0 += 64) {
    const int64_t c1 = std::min(n, c0 + 64);
    if (static_cast<int64_t>(order.size()) == first &&
        ChunkMax(scores.data() + c0, c1 - c0) < order.front().first) {
      continue;  // nothing here beats the heap's worst: most chunks, once it has filled
    }
    for (int64_t i = c0; i < c1; ++i) {
      std::pair<float, int64_t> c{scores[i], i};
      if (static_cast<int64_t>(order.size()) < first) {
        order.push_back(c);
        std::push_heap(order.begin(), order.end(), better);  // worst on top
      } else if (better(c, order.front())) {
        std::pop_heap(order.begin(), order.end(), better);
        order.back() = c;
        std::push_heap(order.begin(), order.end(), better);
      }
    }
  }
  std::sort(order.begin(), order.end(), better);
  for (const auto& [s, i] : order) {
    if (static_cast<int>(out.size()) >= k) return out;
    if (!allowed || (*allowed)(i)) out.emplace_back(i, s);
  }
  if (first == n || static_cast<int>(out.size()) >= k) return out;
  // A narrow filter: go on over the rest in windows of growing size.
  order.resize(n);
  for (int64_t i = 0; i < n; ++i) order[i] = {scores[i], i};
  std::nth_element(order.begin(), order.begin() + (first - 1), order.end(), better);
  int64_t done = first, window = 4 * first;
  while (done < n && static_cast<int>(out.size()) < k) {
    const int64_t end = std::min(n, done + window);
    std::nth_element(order.begin() + done, order.begin() + (end - 1), order.end(), better);
    std::sort(order.begin() + done, order.begin() + end, better);
    for (int64_t i = done; i < end && static_cast<int>(out.size()) < k; ++i) {
      if (!allowed || (*allowed)(order[i].second)) out.emplace_back(order[i].second, order[i].first);
    }
    done = end;
    window *= 4;
  }
  return out;
}

}  // namespace embedrec::ann
