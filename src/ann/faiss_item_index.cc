// ItemIndex over FAISS. Filters go through FAISS's IDSelector, inside the
// search.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <cstring>

#include "ann/exact_scan.h"
#include "ann/faiss_item_index.h"
#include "common/sealed_file.h"

namespace embedrec::ann {
namespace {

// A FAISS IDSelector over our filter.
struct FilterSelector final : faiss::IDSelector {
  explicit FilterSelector(const ItemIndex::Filter* f) : f_(f) {}
  bool is_member(idx_t id) const override { return (*f_)(id); }
  const ItemIndex::Filter* f_;
};

// FAISS reads from memory through this.
struct StringViewReader final : faiss::IOReader {
  explicit StringViewReader(std::string_view b) : b_(b) {}
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return 0;
    size_t n = std::min(nitems, (b_.size() - pos_) / size);
    std::memcpy(ptr, b_.data() + pos_, n * size);
    pos_ += n * size;
    return n;
  }
  std::string_view b_;
  size_t pos_ = 0;
};

class FaissItemIndex final : public ItemIndex {
 public:
  FaissItemIndex(std::unique_ptr<faiss::Index> index, const IndexOptions& o)
      : index_(std::move(index)), options_(o) {
    hnsw_ = dynamic_cast<faiss::IndexHNSW*>(index_.get());
    flat_ = dynamic_cast<faiss::IndexFlat*>(index_.get());
    if (flat_) scanner_ = std::make_unique<ExactScanner>(flat_->get_xb(), flat_->ntotal, dim());
    if (hnsw_) hnsw_->hnsw.efSearch = o.hnsw_ef_search;
  }
  int dim() const override { return static_cast<int>(index_->d); }
  int64_t size() const override { return index_->ntotal; }
  std::string kind() const override { return hnsw_ ? "hnsw_ip" : "exact_ip"; }
  std::string params_json() const override {
    if (!hnsw_) return "{\"metric\":\"inner_product\"}";
    return "{\"metric\":\"inner_product\",\"M\":" + std::to_string(options_.hnsw_m) +
           ",\"ef_construction\":" + std::to_string(hnsw_->hnsw.efConstruction) +
           ",\"ef_search\":" + std::to_string(options_.hnsw_ef_search) + "}";
  }

  std::vector<std::pair<int64_t, float>> Search(const float* query, int k,
                                                const Filter* allowed) const override {
    std::vector<std::pair<int64_t, float>> out;
    k = static_cast<int>(std::min<int64_t>(k, index_->ntotal));
    if (k <= 0) return out;
    if (flat_) {
      // Our own scan: Debian's FAISS is built for a baseline CPU (scalar
      // dot products, measured 33 % of a serving profile) and calls the
      // filter on every item; this vectorises and filters near the top only.
      return scanner_->TopK(query, k, allowed);
    }
    std::vector<float> dist(k);
    std::vector<faiss::Index::idx_t> ids(k);
    FilterSelector sel(allowed);
    faiss::SearchParametersHNSW hp;
    faiss::SearchParameters fp;
    faiss::SearchParameters* params = nullptr;
    if (hnsw_) {
      // A narrow filter leaves few candidates on the graph walk: search wider.
      hp.efSearch = std::max(options_.hnsw_ef_search, allowed ? 4 * k : k);
      if (allowed) hp.sel = &sel;
      params = &hp;
    } else if (allowed) {
      fp.sel = &sel;
      params = &fp;
    }
    index_->search(1, query, k, dist.data(), ids.data(), params);
    for (int i = 0; i < k; ++i) {
      if (ids[i] < 0) break;  // fewer than k allowed
      out.emplace_back(ids[i], dist[i]);
    }
    return out;
  }

  StatusOr<std::string> Serialize() const override {
    try {
      faiss::VectorIOWriter w;
      faiss::write_index(index_.get(), &w);
      return SealFile(kFaissMagic, std::string_view(reinterpret_cast<const char*>(w.data.data()),
                                                         w.data.size()));
    } catch (const faiss::FaissException& e) {
      return Status::Internal(std::string("cannot serialise the index: ") + e.what());
    }
  }

 private:
  std::unique_ptr<faiss::Index> index_;
  faiss::IndexHNSW* hnsw_ = nullptr;
  faiss::IndexFlat* flat_ = nullptr;  // exact: searched by scanner_
  std::unique_ptr<ExactScanner> scanner_;
  IndexOptions options_;
};

}  // namespace

StatusOr<std::unique_ptr<ItemIndex>> BuildFaissIndex(const float* items, int64_t n, int dim,
                                                     bool hnsw, const IndexOptions& o) {
  try {
    std::unique_ptr<faiss::Index> index;
    if (!hnsw) {
      index = std::make_unique<faiss::IndexFlatIP>(dim);
    } else {
      auto h = std::make_unique<faiss::IndexHNSWFlat>(dim, o.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      h->hnsw.efConstruction = o.hnsw_ef_construction;
      index = std::move(h);
    }
    index->add(n, items);
    return std::unique_ptr<ItemIndex>(std::make_unique<FaissItemIndex>(std::move(index), o));
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("cannot build the index: ") + e.what());
  }
}

StatusOr<std::unique_ptr<ItemIndex>> LoadFaissIndex(std::string_view bytes, const IndexOptions& o) {
  ASSIGN_OR_RETURN(bytes, OpenSealedFile(bytes, kFaissMagic, "index file"));
  try {
    StringViewReader r(bytes);
    std::unique_ptr<faiss::Index> index(faiss::read_index(&r));
    if (!dynamic_cast<faiss::IndexFlatIP*>(index.get()) &&
        !dynamic_cast<faiss::IndexHNSWFlat*>(index.get())) {
      return Status::FailedPrecondition("index file holds an index type this build does not use");
    }
    if (r.pos_ != bytes.size()) return Status::FailedPrecondition("index file has trailing bytes");
    return std::unique_ptr<ItemIndex>(std::make_unique<FaissItemIndex>(std::move(index), o));
  } catch (const faiss::FaissException& e) {
    return Status::FailedPrecondition(std::string("corrupt index file: ") + e.what());
  }
}

}  // namespace embedrec::ann
