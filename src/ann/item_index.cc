// Which index a catalog gets, and which reader a file needs.
#include "ann/item_index.h"

#include "ann/faiss_item_index.h"
#include "common/sealed_file.h"
#include "ann/ivf_index.h"

namespace embedrec::ann {

StatusOr<std::unique_ptr<ItemIndex>> BuildItemIndex(const float* items, int64_t n, int dim,
                                                    const IndexOptions& o) {
  if (dim <= 0) return Status::InvalidArgument("index dimension must be > 0");
  if (n <= o.exact_max_items) return BuildFaissIndex(items, n, dim, /*hnsw=*/false, o);
  if (o.large_index == "hnsw") return BuildFaissIndex(items, n, dim, /*hnsw=*/true, o);
  return BuildIvfIndex(items, n, dim, o);
}

StatusOr<std::unique_ptr<ItemIndex>> LoadItemIndex(std::string_view bytes, const IndexOptions& o) {
  if (HasMagic(bytes, kIvfMagic)) return LoadIvfIndex(bytes, o);
  return LoadFaissIndex(bytes, o);
}

}  // namespace embedrec::ann
