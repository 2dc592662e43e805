// Exact top-k by inner product over rows in memory. The rows are kept
// transposed in blocks of kBlock items (dimension-major inside a block), so
// the scan is one fused multiply-add per item and dimension, vectorised
// across items, with no per-item horizontal sum; the block's scores stay in
// L1. The best candidates are then taken in score order and filtered
// lazily, so a filter runs only on items near the top (widening the window
// when a narrow filter rejects most of them).
//
// Thread safety: TopK is safe concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace embedrec::ann {

class ExactScanner {
 public:
  static constexpr int64_t kBlock = 1024;
  // Copies `n` rows of `d` floats (row-major).
  ExactScanner(const float* rows, int64_t n, int d);
  // The k rows of largest inner product with `q` among those `allowed`
  // admits (null: all), best first: (row, score).
  std::vector<std::pair<int64_t, float>> TopK(const float* q, int k,
                                              const std::function<bool(int64_t)>* allowed) const;

 private:
  int64_t n_;
  int d_;
  std::vector<float> blocks_;  // per block: d × kBlock floats, item-minor (zero-padded)
};

}  // namespace embedrec::ann
