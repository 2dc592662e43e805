// Nearest items by inner product over a model's item embeddings: what
// "similar items" and recommendation retrieval search. Exact search up to a
// catalog size, an approximate index above it (IVF of our own by default,
// ann/ivf_index.h; FAISS's HNSW on request); the choice and its parameters
// are recorded with the model version.
//
// Thread safety: Search is safe concurrently once built or loaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace embedrec::ann {

struct IndexOptions {
  int64_t exact_max_items = 200000;  // exact inner-product scan up to this many items
  // Above it: "ivf" (built in seconds) or "hnsw" (FAISS; minutes at 1M items).
  std::string large_index = "ivf";
  int ivf_lists = 0;   // 0: the largest power of two up to 2·√items
  int ivf_probes = 0;  // lists scanned per query; 0: lists / 4, at least 8
  int hnsw_m = 32;                   // HNSW graph degree
  // FAISS's default; 100k items built 6.4x faster than at 200 with recall@10 0.999
  // vs 1.000; at 1M items, recall@10 0.973 with ef_search 512 (docs/benchmarks.md)
  int hnsw_ef_construction = 40;
  int hnsw_ef_search = 512;          // search breadth: recall@10 0.973 at 1M items, p99 3.7 ms (measured)
};

class ItemIndex {
 public:
  virtual ~ItemIndex() = default;
  virtual int dim() const = 0;
  virtual int64_t size() const = 0;
  // "exact_ip", "ivf_ip" or "hnsw_ip", and the parameters as a JSON object.
  virtual std::string kind() const = 0;
  virtual std::string params_json() const = 0;
  // The k items of largest inner product with `query` (dim floats), best
  // first, as (item index, score). `allowed` (may be null) admits item
  // indices: the filter is applied inside the search, so k items come back
  // whenever k are allowed (exact and IVF search; HNSW searches wider for
  // narrow filters but may return fewer when very few items pass).
  using Filter = std::function<bool(int64_t)>;
  virtual std::vector<std::pair<int64_t, float>> Search(const float* query, int k,
                                                        const Filter* allowed) const = 0;
  // The index as bytes (LoadItemIndex reads them back).
  virtual StatusOr<std::string> Serialize() const = 0;
};

// Builds the index of `n` rows of `dim` floats (row-major).
StatusOr<std::unique_ptr<ItemIndex>> BuildItemIndex(const float* items, int64_t n, int dim,
                                                    const IndexOptions& options);
// kFailedPrecondition for bytes that are not an index this build wrote.
StatusOr<std::unique_ptr<ItemIndex>> LoadItemIndex(std::string_view bytes,
                                                   const IndexOptions& options);

}  // namespace embedrec::ann
