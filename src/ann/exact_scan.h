// Exact top-k by inner product over rows in memory, in two passes:
//
//  1. approximate scores for every row from an int8 copy in chunks
//     (ann/int8_scan.h);
//  2. a shortlist of the best approximate scores is re-scored exactly in
//     float32, ranked, and filtered lazily (the filter runs only near the top).
//
// The answer is exact, not approximate: rounding to int8 moves a score by at
// most δ = ½·max s_row·|q|₁ + ½·s_q·max |row|₁ (each coordinate off by at most
// half its scale's step; the float steps after the integer sum add a few
// ulps), so when the k-th exact score of the shortlist exceeds
// the best approximate score left out plus δ, nothing outside can belong to
// the top k; otherwise the shortlist widens (×4) until it does, or holds
// every row.
//
// Thread safety: TopK is safe concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "ann/int8_scan.h"

namespace embedrec::ann {

class ExactScanner {
 public:
  // Copies `n` rows of `d` floats (row-major).
  ExactScanner(const float* rows, int64_t n, int d);
  // The k rows of largest inner product with `q` among those `allowed`
  // admits (null: all), best first: (row, score); ties by lower row.
  std::vector<std::pair<int64_t, float>> TopK(const float* q, int k,
                                              const std::function<bool(int64_t)>* allowed) const;

 private:
  int64_t n_;
  int d_;
  std::vector<float> rows_;       // row-major float32, for exact re-scoring
  Int8Rows int8_;                 // the int8 copy
  float max_scale_ = 0;           // largest row scale
  float max_l1_ = 0;              // largest row |·|₁
};

}  // namespace embedrec::ann
