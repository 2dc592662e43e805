// An inverted-file index of our own, for catalogs above the exact limit:
// k-means (L2) splits the items into lists; a query ranks the lists by its
// inner product with their centroids, scans the best `ivf_probes` lists in
// int8 (ann/int8_scan.h) and re-scores a shortlist exactly. Built in
// seconds where FAISS's HNSW (Debian's baseline-CPU build) took minutes at
// 1M items (docs/benchmarks.md). A filter that leaves fewer than k items in
// the probed lists makes the search probe more, up to every list, so k items
// come back whenever k are allowed.
#pragma once

#include <memory>
#include <string_view>

#include "ann/item_index.h"

namespace embedrec::ann {

inline constexpr std::string_view kIvfMagic = "EMBIVF01";

StatusOr<std::unique_ptr<ItemIndex>> BuildIvfIndex(const float* items, int64_t n, int dim,
                                                   const IndexOptions& options);
// kFailedPrecondition for bytes that are not such an index.
StatusOr<std::unique_ptr<ItemIndex>> LoadIvfIndex(std::string_view bytes, const IndexOptions& options);

}  // namespace embedrec::ann
