// What the exact scan and the IVF index share after their first pass
// (ann/int8_scan.h): approximate scores in chunks of kChunk rows, a shortlist
// of the best of them, re-scored exactly in float32.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace embedrec::ann {

inline constexpr int64_t kChunk = 64;

// The exact score: the same sums, bit for bit, as a search's exact pass.
float Dot(const float* a, const float* b, int d);

// (score, position); better: higher score, then lower position.
using Scored = std::pair<float, int64_t>;
bool Better(const Scored& a, const Scored& b);
// The w best of scores[0..n) (all n, in position order, when w >= n), in no
// order — or, with `keep_extra`, at least those: up to about 4w that a
// sampled bound let through (cheaper when rescoring them is cheap). Returns
// a score that every candidate left out is at most (−∞ when none is).
float Shortlist(const float* scores, int64_t n, int64_t w, std::vector<Scored>* out, bool keep_extra = false);

// The k best of n candidates by exact score among those `allowed` admits
// (null: all), best first, as (item, score). Candidates come chunk by
// chunk: candidate c sits in slot s = chunks ? chunks[c / kChunk] · kChunk +
// c % kChunk : c; its float row is rows + s·d, its item items ? items[s] : s
// (negative: padding, never returned). approx[c] is its approximate score.
// With `exact_within` (the most an approximate score can be off) the
// shortlist widens until nothing left out can enter the top k, so the answer
// is exact among the candidates; without, it widens only while fewer than k
// pass the filter (approximate indexes).
std::vector<std::pair<int64_t, float>> TopKOfCandidates(const float* approx, int64_t n,
                                                        const int64_t* chunks, const float* rows,
                                                        const int32_t* items, int d, const float* q,
                                                        int k, std::optional<float> exact_within,
                                                        const std::function<bool(int64_t)>* allowed);

}  // namespace embedrec::ann
