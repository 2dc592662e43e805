#include "ml/graph.h"

#include "common/cpu_clones.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>

namespace embedrec::ml {

NormalizedGraph NormalizedGraph::Build(const Dataset& data) {
  NormalizedGraph g;
  g.n_users = data.n_users;
  g.n_items = data.n_items;
  const int32_t n = g.n();
  std::vector<int64_t> deg(n, 0);
  for (int32_t u = 0; u < data.n_users; ++u) {
    deg[u] = data.train.degree(u);
    for (const int32_t* it = data.train.begin(u); it != data.train.end(u); ++it) {
      ++deg[data.n_users + *it];
    }
  }
  g.offsets.assign(static_cast<size_t>(n) + 1, 0);
  for (int32_t v = 0; v < n; ++v) g.offsets[v + 1] = g.offsets[v] + deg[v];
  g.cols.resize(g.offsets[n]);
  g.vals.resize(g.offsets[n]);
  std::vector<int64_t> fill(g.offsets.begin(), g.offsets.end() - 1);
  std::vector<float> inv_sqrt(n);
  for (int32_t v = 0; v < n; ++v) {
    inv_sqrt[v] = deg[v] > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(deg[v]))) : 0;
  }
  // Users in order, so item rows receive their users sorted too.
  for (int32_t u = 0; u < data.n_users; ++u) {
    for (const int32_t* it = data.train.begin(u); it != data.train.end(u); ++it) {
      int32_t i = data.n_users + *it;
      float w = inv_sqrt[u] * inv_sqrt[i];
      g.cols[fill[u]] = i;
      g.vals[fill[u]++] = w;
      g.cols[fill[i]] = u;
      g.vals[fill[i]++] = w;
    }
  }
  return g;
}

void PreferHugePages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t at = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = (at + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (at + bytes) & ~(kHuge - 1);
  if (end <= begin) return;
  void* p = reinterpret_cast<void*>(begin);
  if (madvise(p, end - begin, MADV_HUGEPAGE) != 0) return;
  // The pages already touched, at once (Linux 6.1+; glibc 2.36 lacks the name).
  constexpr int kCollapse = 25;  // MADV_COLLAPSE
  (void)madvise(p, end - begin, kCollapse);
}

namespace {

constexpr int64_t kAhead = 48;  // entries between a row's prefetch and its use (measured: 24 and 96 slower)

// One block of output rows: y[r] = Σ val * x[col] over the row's entries
// (skipping masked-out columns). D is the embedding width when known at
// compile time (the accumulator then stays in registers), 0 otherwise.
// Compiled for AVX2+FMA and for any x86-64, picked at load time.
template <int D>
EMBEDREC_CPU_CLONES void RowsKernel(
    const NormalizedGraph& g, const float* x, int d, float* y, const int32_t* rows,
    int64_t lo, int64_t hi, const uint8_t* mask, float* sum, float scale) {
  const int w = D > 0 ? D : d;
  const int64_t row_bytes = static_cast<int64_t>(w) * sizeof(float);
  // Rows in order (no list): their entries are contiguous, and the rows
  // gathered kAhead entries on are fetched while these are summed — random
  // rows of a large graph come from memory, not the cache.
  const int64_t ahead_end = rows ? 0 : g.offsets[hi];
  for (int64_t k = lo; k < hi; ++k) {
    const int32_t r = rows ? rows[k] : static_cast<int32_t>(k);
    float acc[D > 0 ? D : 512];
    for (int j = 0; j < w; ++j) acc[j] = 0.0f;
    for (int64_t e = g.offsets[r]; e < g.offsets[r + 1]; ++e) {
      if (e + kAhead < ahead_end) {
        const char* next = reinterpret_cast<const char*>(x + static_cast<int64_t>(g.cols[e + kAhead]) * w);
        for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b, 0, 0);
      }
      const int32_t c = g.cols[e];
      if (mask && !mask[c]) continue;
      const float v = g.vals[e];
      const float* xc = x + static_cast<int64_t>(c) * w;
#pragma omp simd
      for (int j = 0; j < w; ++j) acc[j] += v * xc[j];
    }
    if (y) {
      float* yr = y + static_cast<int64_t>(r) * w;
      for (int j = 0; j < w; ++j) yr[j] = acc[j];
    }
    if (sum) {
      float* sr = sum + static_cast<int64_t>(r) * w;
#pragma omp simd
      for (int j = 0; j < w; ++j) sr[j] += scale * acc[j];
    }
  }
}

using Kernel = void (*)(const NormalizedGraph&, const float*, int, float*, const int32_t*, int64_t,
                        int64_t, const uint8_t*, float*, float);

Kernel KernelFor(int d) {
  switch (d) {
    case 16: return RowsKernel<16>;
    case 32: return RowsKernel<32>;
    case 64: return RowsKernel<64>;
    case 128: return RowsKernel<128>;
    default: return RowsKernel<0>;
  }
}

}  // namespace

void Propagate(const NormalizedGraph& g, const float* x, int d, float* y,
               const std::vector<int32_t>* rows, const uint8_t* in_mask, float* acc,
               float acc_scale) {
  const int64_t count = rows ? static_cast<int64_t>(rows->size()) : g.n();
  const int32_t* list = rows ? rows->data() : nullptr;
  const Kernel kernel = KernelFor(d);
  constexpr int64_t kBlock = 128;
  // Small products run on the calling thread: a team costs more than it saves.
  const bool parallel = count * d >= kParallelMinWork;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t lo = 0; lo < count; lo += kBlock) {
    kernel(g, x, d, y, list, lo, std::min(count, lo + kBlock), in_mask, acc, acc_scale);
  }
}

void PropagateReference(const NormalizedGraph& g, const float* x, int d, float* y) {
  for (int32_t r = 0; r < g.n(); ++r) {
    for (int j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t e = g.offsets[r]; e < g.offsets[r + 1]; ++e) {
        s += static_cast<double>(g.vals[e]) * x[static_cast<int64_t>(g.cols[e]) * d + j];
      }
      y[static_cast<int64_t>(r) * d + j] = static_cast<float>(s);
    }
  }
}

}  // namespace embedrec::ml
