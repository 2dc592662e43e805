// ItemIndex over FAISS (the only place FAISS headers are included, in
// faiss_item_index.cc): IndexFlatIP for exact search, IndexHNSWFlat for
// HNSW.
#pragma once

#include <memory>
#include <string_view>

#include "ann/item_index.h"

namespace embedrec::ann {

inline constexpr std::string_view kFaissMagic = "EMBIDX01";

StatusOr<std::unique_ptr<ItemIndex>> BuildFaissIndex(const float* items, int64_t n, int dim,
                                                     bool hnsw, const IndexOptions& options);
StatusOr<std::unique_ptr<ItemIndex>> LoadFaissIndex(std::string_view bytes, const IndexOptions& options);

}  // namespace embedrec::ann
