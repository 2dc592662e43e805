// Nearest-item search on a large catalog (issues 6 and 14): an approximate
// index (our IVF or FAISS's HNSW) against exact search over the same
// embeddings, through ann::ItemIndex.
//
// Embeddings: a trained model's (--model, an embedrec model file: its item
// rows, queried by a sample of its user rows, as recommendations are), or a
// seeded mixture of 1,000 Gaussian clusters in 64 dimensions (catalogs cluster
// by category and taste; uniform noise would be an unrealistically hard
// case), queried by fresh draws from the same mixture.
// Prints one JSON line per search breadth (--search: HNSW's ef_search, IVF's
// probes): build seconds, per-query latency percentiles (one thread, one
// query at a time, as a request would), recall@10 against the exact top 10,
// with and without a filter admitting half the items.
//
// Usage: ann_bench [--index ivf|hnsw] [--items 1000000] [--model FILE]
//                  [--queries 500] [--search 128,256,512] [--efc 40] [--lists 0]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <random>
#include <string>
#include <vector>

#include "ann/exact_scan.h"
#include "ann/item_index.h"
#include "ml/model.h"
#include "ml/model_file.h"

using namespace embedrec;

namespace {

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 1000000;
  int queries = 500, efc = 40, d = 64, lists = 0, k = 10;
  std::string kind = "ivf", model_path;
  bool item_queries = false;  // --queries-from items: the model's item rows query (similar items)
  std::vector<int> breadths = {128};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--items")) n = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--queries")) queries = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--index")) kind = argv[i + 1];
    if (!std::strcmp(argv[i], "--model")) model_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--lists")) lists = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--k")) k = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--queries-from")) item_queries = !std::strcmp(argv[i + 1], "items");  // asked for; recall is of the first 10
    if (!std::strcmp(argv[i], "--search") || !std::strcmp(argv[i], "--ef")) {  // comma-separated: one line each
      breadths.clear();
      for (std::string e = argv[i + 1]; !e.empty();) {
        size_t c = e.find(',');
        breadths.push_back(std::stoi(e.substr(0, c)));
        e = c == std::string::npos ? "" : e.substr(c + 1);
      }
    }
    if (!std::strcmp(argv[i], "--efc")) efc = std::stoi(argv[i + 1]);
  }
  std::mt19937_64 rng(42);
  std::vector<float> items, q;
  if (!model_path.empty()) {
    std::ifstream in(model_path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto artifact = ml::DecodeModel(bytes.str());
    if (!artifact.ok()) return std::fprintf(stderr, "%s\n", artifact.status().ToString().c_str()), 1;
    auto model = ml::LoadModel(*artifact);
    if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
    d = (*model)->dim();
    items = (*model)->item_embeddings();
    n = static_cast<int64_t>(items.size() / d);
    const auto& users = item_queries ? (*model)->item_embeddings() : (*model)->user_embeddings();
    const int64_t n_users = static_cast<int64_t>(users.size() / d);
    for (int t = 0; t < queries; ++t) {
      const float* u = users.data() + (rng() % n_users) * d;
      q.insert(q.end(), u, u + d);
    }
  } else {
    std::normal_distribution<float> normal;
    const int clusters = 1000;
    std::vector<float> centres(static_cast<size_t>(clusters) * d);
    for (auto& x : centres) x = normal(rng);
    auto draw = [&](float* out) {
      const float* c = centres.data() + (rng() % clusters) * d;
      for (int j = 0; j < d; ++j) out[j] = c[j] + 0.5f * normal(rng);
    };
    items.resize(static_cast<size_t>(n) * d);
    q.resize(static_cast<size_t>(queries) * d);
    for (int64_t i = 0; i < n; ++i) draw(items.data() + i * d);
    for (int i = 0; i < queries; ++i) draw(q.data() + static_cast<size_t>(i) * d);
  }

  ann::IndexOptions o;
  o.exact_max_items = 0;  // force the approximate index
  o.large_index = kind;
  o.ivf_lists = lists;
  o.hnsw_ef_search = breadths.front();
  o.hnsw_ef_construction = efc;
  auto t0 = std::chrono::steady_clock::now();
  auto index = ann::BuildItemIndex(items.data(), n, d, o);
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().ToString().c_str());
    return 1;
  }
  ann::ExactScanner exact(items.data(), n, d);
  ann::ItemIndex::Filter half = [](int64_t i) { return i % 2 == 0; };
  auto bytes = (*index)->Serialize();
  for (int breadth : breadths) {
    o.hnsw_ef_search = breadth;
    o.ivf_probes = breadth;
    auto loaded = ann::LoadItemIndex(*bytes, o);
    if (!loaded.ok()) return 1;
    const ann::ItemIndex& idx = **loaded;
    std::vector<double> lat, lat_f, lat_exact;
    double hits = 0, hits_f = 0;
    for (int t = 0; t < queries; ++t) {
      const float* qq = q.data() + static_cast<size_t>(t) * d;
      auto a = std::chrono::steady_clock::now();
      auto got = idx.Search(qq, k, nullptr);
      auto b = std::chrono::steady_clock::now();
      auto got_f = idx.Search(qq, k, &half);
      got.resize(std::min<size_t>(got.size(), 10));
      got_f.resize(std::min<size_t>(got_f.size(), 10));
      auto c = std::chrono::steady_clock::now();
      auto want = exact.TopK(qq, 10, nullptr);
      auto e = std::chrono::steady_clock::now();
      auto want_f = exact.TopK(qq, 10, &half);
      lat.push_back(std::chrono::duration<double, std::milli>(b - a).count());
      lat_f.push_back(std::chrono::duration<double, std::milli>(c - b).count());
      lat_exact.push_back(std::chrono::duration<double, std::milli>(e - c).count());
      // A hit: an item of the exact top 10, or one scoring as high as its
      // 10th (items with equal embeddings tie, and either is a right answer).
      auto hit = [](const auto& want, int64_t i, float s) {
        return std::any_of(want.begin(), want.end(), [&](auto& w) { return w.first == i; }) ||
               (!want.empty() && s >= want.back().second);
      };
      for (auto& [i, s] : got) hits += hit(want, i, s);
      for (auto& [i, s] : got_f) hits_f += hit(want_f, i, s);
    }
    std::printf(
        "{\"items\":%lld,\"k\":%d,\"dim\":%d,\"index\":\"%s\",\"params\":%s,\"build_seconds\":%.1f,"
        "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"recall@10\":%.4f,"
        "\"filtered_p50_ms\":%.3f,\"filtered_p99_ms\":%.3f,\"filtered_recall@10\":%.4f,"
        "\"exact_p50_ms\":%.3f,\"exact_p99_ms\":%.3f}\n",
        static_cast<long long>(n), k, d, idx.kind().c_str(), idx.params_json().c_str(), build_s,
        Percentile(lat, 0.5), Percentile(lat, 0.99), hits / (10.0 * queries), Percentile(lat_f, 0.5),
        Percentile(lat_f, 0.99), hits_f / (10.0 * queries), Percentile(lat_exact, 0.5),
        Percentile(lat_exact, 0.99));
    std::fflush(stdout);
  }
  return 0;
}
