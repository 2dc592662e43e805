#include "ann/shortlist.h"

#include "common/cpu_clones.h"

#include <algorithm>
#include <functional>
#include <limits>

namespace embedrec::ann {

namespace {

// Eight running maxima, one vector (a single running maximum was a chain of
// dependent scalar steps: as slow as the scores' selection itself).
EMBEDREC_CPU_CLONES
float ChunkMax(const float* x, int64_t n) {
  constexpr int kLanes = 8;
  float m[kLanes];
  for (int t = 0; t < kLanes; ++t) m[t] = x[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int t = 0; t < kLanes; ++t) m[t] = m[t] > x[i + t] ? m[t] : x[i + t];
  }
  for (; i < n; ++i) m[0] = m[0] > x[i] ? m[0] : x[i];
  float best = m[0];
  for (int t = 1; t < kLanes; ++t) best = best > m[t] ? best : m[t];
  return best;
}

}  // namespace

float Dot(const float* a, const float* b, int d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

namespace {

// Better, inlined into the sorts and selections below (a function pointer is
// a call per comparison: most of a search's time once).
constexpr auto kBetter = [](const Scored& a, const Scored& b) {
  return a.first != b.first ? a.first > b.first : a.second < b.second;
};

}  // namespace

bool Better(const Scored& a, const Scored& b) { return kBetter(a, b); }

namespace {

// Every candidate at or above `bound` (chunks whose best is under it skipped whole).
// Without a branch per score (a mispredicted one for every few gathered): each
// is written and kept by moving the end past it when it passes.
void Gather(const float* scores, int64_t n, float bound, std::vector<Scored>* out) {
  thread_local std::vector<Scored> room;  // only grows: not written again per search
  if (static_cast<int64_t>(room.size()) < n) room.resize(n);
  Scored* end = room.data();
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t c1 = std::min(n, c0 + kChunk);
    if (ChunkMax(scores + c0, c1 - c0) < bound) continue;
    for (int64_t i = c0; i < c1; ++i) {
      *end = {scores[i], i};
      end += scores[i] >= bound;
    }
  }
  out->assign(room.data(), end);
}

// The w best (w < n), unordered but for the w-th best last: the w-th best
// score is estimated from an even sample, every candidate at or above a
// bound a little below it is gathered and the w best of those selected —
// exact whenever at least w were gathered (everything left out scores below
// every gathered one). A sample that misjudged the bound (too few gathered)
// gathers everything.
void Select(const float* scores, int64_t n, int64_t w, std::vector<Scored>* out) {
  constexpr int64_t kSample = 1024;
  // The sample's rank of the w-th best, with room: 1.5× plus 16.
  const int64_t rank = (3 * w * kSample) / (2 * n) + 16;
  if (n >= 4 * kSample && rank < kSample) {
    thread_local std::vector<float> sample;
    sample.resize(kSample);
    // Positions j·n/kSample, in fixed point (no division per sample).
    const uint64_t step = (static_cast<uint64_t>(n) << 20) / kSample;
    for (int64_t j = 0; j < kSample; ++j) sample[j] = scores[(static_cast<uint64_t>(j) * step) >> 20];
    std::nth_element(sample.begin(), sample.begin() + rank, sample.end(), std::greater<float>());
    Gather(scores, n, sample[rank], out);
  } else {
    out->clear();
  }
  if (static_cast<int64_t>(out->size()) < w) Gather(scores, n, -std::numeric_limits<float>::infinity(), out);
  std::nth_element(out->begin(), out->begin() + (w - 1), out->end(), kBetter);
  out->resize(w);
}

}  // namespace

void Shortlist(const float* scores, int64_t n, int64_t w, std::vector<Scored>* out) {
  if (w < n) return Select(scores, n, w, out);
  out->resize(n);
  for (int64_t i = 0; i < n; ++i) (*out)[i] = {scores[i], i};
}

std::vector<std::pair<int64_t, float>> TopKOfCandidates(const float* approx, int64_t n,
                                                        const int64_t* chunks, const float* rows,
                                                        const int32_t* items, int d, const float* q,
                                                        int k, std::optional<float> exact_within,
                                                        const std::function<bool(int64_t)>* allowed) {
  std::vector<std::pair<int64_t, float>> out;
  if (k <= 0 || n <= 0) return out;
  thread_local std::vector<Scored> shortlist, exact;
  thread_local std::vector<float> masked;
  const float* scores = approx;
  auto item_of = [&](int64_t c) {
    const int64_t slot = chunks ? chunks[c / kChunk] * kChunk + c % kChunk : c;
    return std::pair<int64_t, int64_t>(slot, items ? items[slot] : slot);
  };
  for (int64_t w = std::max<int64_t>(4 * k, 64);; w *= 4) {
    // The shortlist in no order but its worst last: the best approximate
    // score left out is at most that (−∞ when every candidate is in).
    Shortlist(scores, n, w, &shortlist);
    const float left_out = w < n ? shortlist.back().first : -std::numeric_limits<float>::infinity();
    exact.clear();
    for (const auto& [s, c] : shortlist) {
      const auto [slot, item] = item_of(c);
      if (item >= 0 && s > -std::numeric_limits<float>::infinity()) {
        exact.emplace_back(Dot(rows + slot * d, q, d), item);
      }
    }
    // Sorted in steps, as far as the k allowed need: the first 2k, then the rest.
    out.clear();
    size_t sorted = std::min(exact.size(), static_cast<size_t>(2 * k));
    std::nth_element(exact.begin(), exact.begin() + sorted, exact.end(), kBetter);
    std::sort(exact.begin(), exact.begin() + sorted, kBetter);
    for (size_t at = 0; at < exact.size() && static_cast<int>(out.size()) < k; ++at) {
      if (at == sorted) {
        std::sort(exact.begin() + sorted, exact.end(), kBetter);
        sorted = exact.size();
      }
      const auto& [s, i] = exact[at];
      if (!allowed || (*allowed)(i)) out.emplace_back(i, s);
    }
    if (w >= n) return out;  // every candidate considered
    if (static_cast<int>(out.size()) == k && (!exact_within || out.back().second > left_out + *exact_within)) {
      return out;
    }
    if (allowed && scores == approx && static_cast<int>(out.size()) < k) {
      // Most of the best are not allowed (a user's own items, excluded):
      // rather than widening toward the whole catalog, drop every candidate
      // that is not allowed, once, and look again at this width.
      masked.assign(approx, approx + n);
      for (int64_t c = 0; c < n; ++c) {
        const int64_t item = item_of(c).second;
        if (item < 0 || !(*allowed)(item)) masked[c] = -std::numeric_limits<float>::infinity();
      }
      scores = masked.data();
      w /= 4;  // the same width again
    }
  }
}

}  // namespace embedrec::ann
