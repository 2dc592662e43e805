// Raw speed of the LightGCN propagation kernel (Y = Â X, every row, d = 64)
// on the Gowalla graphs, in edges per second: tells whether an epoch is
// bound by the kernel itself or by the work around it.
//   build/propagate_bench [--benchmark_filter=...]
// Needs ../shared/data (set EMBEDREC_DATA to override).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "ml/dataset.h"
#include "ml/graph.h"

namespace {

using embedrec::ml::NormalizedGraph;

const NormalizedGraph& Graph(const std::string& name) {
  static std::map<std::string, NormalizedGraph> graphs;
  auto it = graphs.find(name);
  if (it != graphs.end()) return it->second;
  const char* root = std::getenv("EMBEDREC_DATA");
  std::string dir = std::string(root ? root : "../shared/data") + "/" + name + "/";
  std::string file = name == "gowalla" ? "train.txt.gz" : "train.txt";
  auto pairs = embedrec::ml::ReadAdjacencyFile(dir + file);
  if (!pairs.ok()) {
    std::fprintf(stderr, "%s\n", pairs.status().message().c_str());
    std::exit(1);
  }
  auto data = embedrec::ml::MakeDataset(std::move(*pairs), {});
  return graphs.emplace(name, NormalizedGraph::Build(data)).first->second;
}

void BM_Propagate(benchmark::State& state, const std::string& name) {
  const NormalizedGraph& g = Graph(name);
  omp_set_num_threads(static_cast<int>(state.range(0)));
  const int d = 64;
  std::vector<float> x(static_cast<size_t>(g.n()) * d), y(x.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 0.1f);
  for (auto& v : x) v = normal(rng);
  for (auto _ : state) {
    embedrec::ml::Propagate(g, x.data(), d, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["edges/s"] =
      benchmark::Counter(static_cast<double>(g.nnz()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB_gathered/s"] = benchmark::Counter(
      static_cast<double>(g.nnz()) * d * 4 / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_Propagate, gowalla_shop, std::string("gowalla-shop"))
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Propagate, gowalla, std::string("gowalla"))
    ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
