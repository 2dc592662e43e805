// Exact top-k by inner product over rows in memory: one pass of dot
// products (vectorised for the CPU at hand), then the best candidates are
// taken in score order and filtered lazily, so a filter is evaluated only
// on the items near the top (widening the window when a narrow filter
// rejects most of them).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace embedrec::ann {

// The k rows of largest inner product with `q` among those `allowed`
// admits (null: all), best first: (row, score).
std::vector<std::pair<int64_t, float>> TopKInnerProduct(const float* rows, int64_t n, int d,
                                                        const float* q, int k,
                                                        const std::function<bool(int64_t)>* allowed);

}  // namespace embedrec::ann
