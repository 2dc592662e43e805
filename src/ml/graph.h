// The user–item graph of LightGCN: nodes 0..n_users-1 are users, n_users..
// n_users+n_items-1 are items; Â = D^-1/2 A D^-1/2 with A the symmetric
// bipartite adjacency of the training pairs (D: node degrees; isolated
// nodes have empty rows). Â is symmetric, so one CSR serves Â and Âᵀ.
//
// Embedding matrices are row-major n × d float arrays ("n rows of d").
#pragma once

#include <cstdint>
#include <vector>

#include "ml/dataset.h"

namespace embedrec::ml {

// Loops over fewer than this many (rows × width) units stay on the calling
// thread: starting a team costs more than it saves, and far more when other
// processes share the cores.
inline constexpr int64_t kParallelMinWork = int64_t{1} << 16;

// Backs a large array with 2 MB pages where the kernel allows it (rows read
// at random: one TLB entry then covers 8,192 rows of 64 floats instead of
// 16). Best effort: nothing changes where transparent huge pages are off.
void PreferHugePages(const void* data, size_t bytes);
inline void PreferHugePages(std::vector<float>& v) { PreferHugePages(v.data(), v.size() * sizeof(float)); }

// Asks for row r of a row-major matrix of width d ahead of its use: a random
// row of a large model comes from memory, not the cache, and a loop over a
// list of rows waits on each in turn unless the next ones are on their way.
// kRowsAhead: how far ahead in such a list.
inline constexpr int64_t kRowsAhead = 8;
inline void PrefetchRow(const float* m, int32_t r, int d) {
  const char* p = reinterpret_cast<const char*>(m + static_cast<int64_t>(r) * d);
  for (int64_t b = 0; b < static_cast<int64_t>(d) * 4; b += 64) __builtin_prefetch(p + b, 1, 0);
}

struct NormalizedGraph {
  int32_t n_users = 0, n_items = 0;
  std::vector<int64_t> offsets;  // n + 1
  std::vector<int32_t> cols;
  std::vector<float> vals;

  int32_t n() const { return n_users + n_items; }
  int64_t nnz() const { return static_cast<int64_t>(cols.size()); }
  static NormalizedGraph Build(const Dataset& data);
};

// Y[r] = Σ_c Â[r,c] X[c] for every row r in `rows` (all rows when null).
// When `in_mask` is given, columns c with in_mask[c] == 0 are skipped (X is
// zero there): the cost follows the non-zero rows of X. Rows not listed are
// left untouched. X and Y: n × d. Parallel over rows (OpenMP); each row is
// summed in a fixed order, so results do not depend on the thread count.
// When `acc` is given, acc[r] += acc_scale * Y[r] for the same rows, in the
// same pass (saves a sweep over the rows); Y may then be null (not written).
void Propagate(const NormalizedGraph& g, const float* x, int d, float* y,
               const std::vector<int32_t>* rows = nullptr, const uint8_t* in_mask = nullptr,
               float* acc = nullptr, float acc_scale = 0.0f);

// Plain single-threaded reference of Propagate over every row (tests).
void PropagateReference(const NormalizedGraph& g, const float* x, int d, float* y);

}  // namespace embedrec::ml
