#include "ann/shortlist.h"

#include "common/cpu_clones.h"

#include <algorithm>
#include <cmath>
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

// At least the w best (w < n), in no order: the w-th best score is
// estimated from an even sample and every candidate at or above a bound a
// little below it is gathered — all of the w best whenever at least w were
// gathered (everything left out scores below every gathered one). A sample
// that misjudged the bound (too few gathered) gathers everything. Then the
// w best are selected, the w-th best last — unless `keep_extra` and not far
// more than w were gathered (ties, a skewed sample): all are kept. Returns a
// score every candidate left out is at most.
float Select(const float* scores, int64_t n, int64_t w, bool keep_extra, std::vector<Scored>* out) {
  // An even sample; the rank in it of the w-th best, with room: 1.5× plus 16.
  // Keeping extras, a catalog under 16K rows samples 512 with room 8: its
  // selection cost more than the few more rows it lets through (measured on
  // two trained models: 11-22 % less per search at k = 10 and 100).
  const bool small = keep_extra && n < 16384;
  const int64_t kSample = small ? 512 : 1024;
  const int64_t rank = (3 * w * kSample) / (2 * n) + (small ? 8 : 16);
  float bound = -std::numeric_limits<float>::infinity();
  // How many the bound should let through; without a sample (a small
  // catalog), rescoring up to 4w exactly costs less than a second round.
  int64_t expected = 2 * w;
  if (n >= 4096 && rank < kSample) {
    thread_local std::vector<float> sample;
    sample.resize(kSample);
    // Positions j·n/kSample, in fixed point (no division per sample).
    const uint64_t step = (static_cast<uint64_t>(n) << 20) / kSample;
    for (int64_t j = 0; j < kSample; ++j) sample[j] = scores[(static_cast<uint64_t>(j) * step) >> 20];
    std::nth_element(sample.begin(), sample.begin() + rank, sample.end(), std::greater<float>());
    bound = sample[rank];
    expected = (rank + 1) * n / kSample;
    Gather(scores, n, bound, out);
  } else {
    out->clear();
  }
  if (static_cast<int64_t>(out->size()) < w) {
    bound = -std::numeric_limits<float>::infinity();
    Gather(scores, n, bound, out);
  }
  if (keep_extra &&
      static_cast<int64_t>(out->size()) <= std::max(2 * w + 64, std::min(2 * expected, 4 * w + 64))) {
    return std::nextafter(bound, -std::numeric_limits<float>::infinity());  // −∞: every one is in
  }
  std::nth_element(out->begin(), out->begin() + (w - 1), out->end(), kBetter);
  out->resize(w);
  return out->back().first;
}

// Each candidate's exact score: rows[slots[t]] · q for t < count. Compiled
// for AVX2+FMA too (four independent sums per row: one running sum is a
// chain of dependent adds).
EMBEDREC_CPU_CLONES
void DotsOf(const float* rows, const int64_t* slots, int64_t count, const float* q, int d, float* out) {
  typedef float V8 __attribute__((vector_size(32)));
  for (int64_t t = 0; t < count; ++t) {
    const float* r = rows + slots[t] * d;
    if (t + 4 < count) {
      const char* next = reinterpret_cast<const char*>(rows + slots[t + 4] * d);
      for (int64_t b = 0; b < static_cast<int64_t>(d) * 4; b += 64) __builtin_prefetch(next + b, 0, 3);
    }
    V8 acc[4] = {};
    int j = 0;
    for (; j + 32 <= d; j += 32) {
      for (int a = 0; a < 4; ++a) {
        V8 x, y;
        __builtin_memcpy(&x, r + j + 8 * a, sizeof x);
        __builtin_memcpy(&y, q + j + 8 * a, sizeof y);
        acc[a] += x * y;
      }
    }
    const V8 v = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    float sum = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
    for (; j < d; ++j) sum += r[j] * q[j];
    out[t] = sum;
  }
}

}  // namespace

float Dot(const float* a, const float* b, int d) {
  const int64_t first = 0;
  float out;
  DotsOf(a, &first, 1, b, d, &out);  // the same sums as a search's exact pass
  return out;
}

float Shortlist(const float* scores, int64_t n, int64_t w, std::vector<Scored>* out, bool keep_extra) {
  if (w < n) return Select(scores, n, w, keep_extra, out);
  out->resize(n);
  for (int64_t i = 0; i < n; ++i) (*out)[i] = {scores[i], i};
  return -std::numeric_limits<float>::infinity();
}

std::vector<std::pair<int64_t, float>> TopKOfCandidates(const float* approx, int64_t n,
                                                        const int64_t* chunks, const float* rows,
                                                        const int32_t* items, int d, const float* q,
                                                        int k, std::optional<float> exact_within,
                                                        const std::function<bool(int64_t)>* allowed) {
  std::vector<std::pair<int64_t, float>> out;
  if (k <= 0 || n <= 0) return out;
  thread_local std::vector<Scored> shortlist, exact;
  thread_local std::vector<float> masked, dots;
  thread_local std::vector<int64_t> slots;
  const float* scores = approx;
  auto item_of = [&](int64_t c) {
    const int64_t slot = chunks ? chunks[c / kChunk] * kChunk + c % kChunk : c;
    return std::pair<int64_t, int64_t>(slot, items ? items[slot] : slot);
  };
  // The k best allowed of `list` by exact score, into `out`.
  auto rescore = [&](const std::vector<Scored>& list) {
    exact.clear();
    slots.clear();
    for (const auto& [s, c] : list) {
      const auto [slot, item] = item_of(c);
      if (item >= 0 && s > -std::numeric_limits<float>::infinity()) {
        slots.push_back(slot);
        exact.emplace_back(0.0f, item);
      }
    }
    dots.resize(slots.size());
    DotsOf(rows, slots.data(), static_cast<int64_t>(slots.size()), q, d, dots.data());
    for (size_t t = 0; t < exact.size(); ++t) exact[t].first = dots[t];
    // Sorted in steps, as far as the k allowed need: k and a few (most are
    // allowed), then as many more as the share allowed so far says are needed.
    out.clear();
    size_t sorted = 0;
    for (size_t at = 0; at < exact.size() && static_cast<int>(out.size()) < k; ++at) {
      if (at == sorted) {
        const size_t need = static_cast<size_t>(k) - out.size();
        const size_t step = sorted == 0 ? need + need / 8 + 8
                                        : need * sorted / std::max<size_t>(1, out.size()) * 5 / 4 + 8;
        const size_t end = std::min(exact.size(), sorted + step);
        std::nth_element(exact.begin() + sorted, exact.begin() + end, exact.end(), kBetter);
        std::sort(exact.begin() + sorted, exact.begin() + end, kBetter);
        sorted = end;
      }
      const auto& [s, i] = exact[at];
      if (!allowed || (*allowed)(i)) out.emplace_back(i, s);
    }
  };
  // An exact search starts from a little more than the k best approximate
  // scores (the rounding bound is tight: in an instrumented run on three
  // trained models, starting from k, 98.8-100 % of searches ended there) and keeps what the shortlist's bound
  // lets through (its rows are in cache: rescoring a few more costs less
  // than selecting); an approximate index rescores exactly the 4k best, for
  // its recall (its rows, on a large catalog, are not).
  for (int64_t w = std::max<int64_t>(exact_within ? k + k / 8 + 16 : 4 * k, 64);; w *= 4) {
    // The shortlist in no order; the best approximate score left out is at
    // most left_out (−∞ when every candidate is in).
    const float left_out = Shortlist(scores, n, w, &shortlist, /*keep_extra=*/exact_within.has_value());
    rescore(shortlist);
    if (left_out == -std::numeric_limits<float>::infinity()) return out;  // every candidate considered
    const bool full = static_cast<int>(out.size()) == k;
    if (full && (!exact_within || out.back().second > left_out + *exact_within)) return out;
    if (full) {
      // Some left out might still enter: exactly those whose approximate
      // score is within the rounding bound of the k-th exact one. Every
      // other scores below it exactly, so these decide the answer.
      Gather(scores, n, std::nextafter(out.back().second - *exact_within, -std::numeric_limits<float>::infinity()),
             &shortlist);
      rescore(shortlist);
      return out;
    }
    if (allowed && scores == approx) {
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
