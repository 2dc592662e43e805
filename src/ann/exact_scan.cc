#include "ann/exact_scan.h"

#include <algorithm>

namespace embedrec::ann {

namespace {

// Dot products of every row with q. Cloned for AVX2/FMA and a baseline, so
// the same binary is fast where it can be and runs everywhere.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void Scores(const float* rows, int64_t n, int d, const float* q, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float* r = rows + i * d;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < d; ++j) s += r[j] * q[j];
    out[i] = s;
  }
}

}  // namespace

std::vector<std::pair<int64_t, float>> TopKInnerProduct(const float* rows, int64_t n, int d,
                                                        const float* q, int k,
                                                        const std::function<bool(int64_t)>* allowed) {
  std::vector<std::pair<int64_t, float>> out;
  if (k <= 0 || n <= 0) return out;
  thread_local std::vector<float> scores;
  thread_local std::vector<std::pair<float, int64_t>> order;
  scores.resize(n);
  Scores(rows, n, d, q, scores.data());
  auto better = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  // Usually the first window holds k allowed items: keep just that window's
  // best in a heap (one comparison per item for most of them).
  const int64_t first = std::min<int64_t>(n, std::max<int64_t>(4 * k, 64));
  order.clear();
  for (int64_t i = 0; i < n; ++i) {
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
  std::sort(order.begin(), order.end(), better);
  for (const auto& [s, i] : order) {
    if (static_cast<int>(out.size()) >= k) return out;
    if (!allowed || (*allowed)(i)) out.emplace_back(i, s);
  }
  if (first == n || static_cast<int>(out.size()) >= k) return out;
  // A narrow filter: go on over the rest in windows of growing size.
  order.resize(n);
  for (int64_t i = 0; i < n; ++i) order[i] = {scores[i], i};
  int64_t done = first, window = 4 * first;
  std::nth_element(order.begin(), order.begin() + (first - 1), order.end(), better);
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
