#include "ml/lightgcn.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "common/bit_mix.h"

namespace embedrec::ml {

Status TrainOptions::Validate() const {
  auto bad = [](const std::string& what) { return Status::InvalidArgument(what); };
  if (embedding_dim < 1 || embedding_dim > 512) return bad("embedding_dim must be 1..512");
  if (num_layers < 0 || num_layers > 8) return bad("num_layers must be 0..8");
  if (!(learning_rate > 0) || learning_rate > 10) return bad("learning_rate must be in (0, 10]");
  if (batch_size < 0 || batch_size > (1 << 22)) {
    return bad("batch_size must be 1..4194304 (0: scaled to the data)");
  }
  if (epochs < 1 || epochs > 100000) return bad("epochs must be 1..100000");
  if (negative_samples < 1 || negative_samples > 100) return bad("negative_samples must be 1..100");
  if (!(reg >= 0) || reg > 1000) return bad("reg must be in [0, 1000]");
  if (!(lambda > 0) || lambda > 1e7) return bad("lambda must be in (0, 1e7]");
  if (neighbors < 0 || neighbors > 100000) return bad("neighbors must be 0..100000");
  if (walks < 0 || walks > 64) return bad("walks must be 0..64");
  if (refreshes < 1 || refreshes > 1000) return bad("refreshes must be 1..1000");
  if (!(temperature > 0) || temperature > 10) return bad("temperature must be in (0, 10]");
  if (softmax_negatives < 1 || softmax_negatives > 65536) {
    return bad("softmax_negatives must be 1..65536");
  }
  if (!(time_budget_seconds >= 0)) return bad("time_budget_seconds must be >= 0");
  if (threads < 0 || threads > 1024) return bad("threads must be 0..1024");
  if (eval_every < 0 || patience < 0) return bad("eval_every and patience must be >= 0");
  for (int k : ks) {
    if (k < 1 || k > 1000) return bad("every k must be 1..1000");
  }
  return Status::Ok();
}

int TrainOptions::BatchSizeFor(int64_t pairs, bool propagates) const {
  if (batch_size > 0) return batch_size;
  if (!propagates) return kDefaultBatch;
  const int64_t scaled = (pairs + kStepsPerEpoch - 1) / kStepsPerEpoch;
  const int64_t rounded = (scaled + 255) / 256 * 256;
  return static_cast<int>(std::clamp<int64_t>(rounded, kDefaultBatch, 1 << 22));
}

double TrainOptions::LearningRateFor(int batch) const {
  const double scaled = learning_rate * batch / kDefaultBatch;
  return std::max(learning_rate, std::min(kMaxScaledLearningRate, scaled));
}

LightGcnCore::LightGcnCore(const NormalizedGraph* graph, int d, int layers, uint64_t seed,
                           int walks)
    : graph_(graph), d_(d), layers_(layers), walks_(walks), seed_(seed), adam_(graph->n(), d) {
  const size_t size = static_cast<size_t>(graph->n()) * d;
  ego_.resize(size);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  for (auto& x : ego_) x = normal(rng);
  if (layers_ > 0) {  // BPR-MF's step needs none of them (made when first needed)
    grad_.assign(size, 0.0f);
    fin_.assign(size, 0.0f);
    g_.assign(size, 0.0f);
  }
  mark_.assign(graph->n(), 0);
  if (walks_ > 0 && layers_ > 0) {
    occurrences_.assign(graph->n(), 0);
    hist_final_.assign(size, 0.0f);
    hist_ego_.assign(size, 0.0f);
  } else {
    layer_.assign(layers, std::vector<float>(size, 0.0f));
  }
  for (auto* v : {&ego_, &grad_, &fin_, &g_, &hist_final_, &hist_ego_}) PreferHugePages(*v);
  for (auto& l : layer_) PreferHugePages(l);
}

namespace {

// f(node) for each occurrence of a node in a batch: its users, then its
// positives and negatives (items, numbered after the nu users).
template <typename F>
void ForEachOccurrence(int32_t nu, const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                       const std::vector<int32_t>& neg, F f) {
  for (int32_t u : users) f(u);
  for (int32_t i : pos) f(nu + i);
  for (int32_t j : neg) f(nu + j);
}

}  // namespace

void LightGcnCore::TakeMarked(std::vector<int32_t>* out) {
  for (int32_t v = 0; v < graph_->n(); ++v) {
    if (mark_[v]) {
      mark_[v] = 0;
      out->push_back(v);
    }
  }
}

void LightGcnCore::BatchNodes(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                              const std::vector<int32_t>& neg, std::vector<int32_t>* out) {
  const int32_t nu = graph_->n_users, n = graph_->n();
  const size_t total = users.size() + pos.size() + neg.size();
  out->clear();
  if (total * 8 >= static_cast<size_t>(n)) {
    // Large (the scaled batch): marked, then a scan in node order — a sort of
    // this many random numbers costs more than a pass over n bytes.
    ForEachOccurrence(nu, users, pos, neg, [&](int32_t v) { mark_[v] = 1; });
    TakeMarked(out);
    return;
  }
  out->reserve(total);
  ForEachOccurrence(nu, users, pos, neg, [&](int32_t v) { out->push_back(v); });
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

void LightGcnCore::Sync() { adam_.CatchUpAll(ego_.data()); }

double LightGcnCore::TrainStep(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                               const std::vector<int32_t>& neg, double reg, double lr) {
  if (layers_ > 0 && walks_ > 0) return SampledStep(users, pos, neg, reg, lr);
  if (layers_ > 0) {
    const double loss = LossAndGradient(users, pos, neg, reg);
    AdamStep(lr);
    return loss;
  }
  // No propagation (BPR-MF): the step reads and writes the batch's rows
  // only; the final rows are E(0)'s own, so the loss reads them in place (no
  // copies of the rows to gather again). The softmax adds its gradient to
  // grad_'s rows, BPR to a buffer of the batch's rows.
  BatchNodes(users, pos, neg, &batch_nodes_);
  adam_.CatchUp(batch_nodes_, ego_.data());
  if (temperature_ > 0) {
    if (grad_.empty()) grad_.assign(ego_.size(), 0.0f);
    const double loss = Loss(users, pos, neg, reg, ego_.data(), grad_.data());
    adam_.Step(batch_nodes_, ego_.data(), grad_.data(), lr);
    return loss;
  }
  // BPR: the gradient in a buffer of the batch's rows (in the cache), not in
  // rows of the n × d gradient (one random row fewer per node and array).
  if (slot_.empty()) {
    slot_.assign(graph_->n(), 0);
    PreferHugePages(slot_.data(), slot_.size() * sizeof(int32_t));
  }
  for (size_t k = 0; k < batch_nodes_.size(); ++k) slot_[batch_nodes_[k]] = static_cast<int32_t>(k);
  // Zero where it is used: StepPacked clears what it reads, and rows added
  // by a larger batch start at zero (no memset of the buffer per step).
  packed_grad_.resize(batch_nodes_.size() * d_, 0.0f);
  packed_slot_ = slot_.data();
  const double loss = BprLoss(users, pos, neg, reg, ego_.data(), packed_grad_.data());
  packed_slot_ = nullptr;
  adam_.StepPacked(batch_nodes_, ego_.data(), packed_grad_.data(), lr);
  return loss;
}

void LightGcnCore::Refresh() {
  FullForward(&hist_final_);
  hist_ego_ = ego_;
}

double LightGcnCore::SampledStep(const std::vector<int32_t>& users,
                                 const std::vector<int32_t>& pos,
                                 const std::vector<int32_t>& neg, double reg, double lr) {
  const double loss = SampledLossAndGradient(users, pos, neg, reg);
  adam_.Step(touched_, ego_.data(), grad_.data(), lr);
  return loss;
}

double LightGcnCore::SampledLossAndGradient(const std::vector<int32_t>& users,
                                            const std::vector<int32_t>& pos,
                                            const std::vector<int32_t>& neg, double reg) {
  const NormalizedGraph& g = *graph_;
  const int d = d_, K = layers_, P = walks_;
  const float inv = 1.0f / static_cast<float>(K + 1);
  auto row = [d](std::vector<float>& m, int32_t v) { return m.data() + static_cast<int64_t>(v) * d; };
  BatchNodes(users, pos, neg, &batch_nodes_);
  const int64_t nb = static_cast<int64_t>(batch_nodes_.size());

  // Walks: `walks` per occurrence of the node in the batch (a popular item
  // present many times carries that much more gradient, and gets that many
  // more walks to spread it). Node −1 where a walk stopped (a node with no edge).
  for (int32_t u : users) ++occurrences_[u];
  for (int32_t i : pos) ++occurrences_[g.n_users + i];
  for (int32_t j : neg) ++occurrences_[g.n_users + j];
  walk_begin_.resize(nb + 1);
  walk_begin_[0] = 0;
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = batch_nodes_[q];
    walk_begin_[q + 1] = walk_begin_[q] + static_cast<int64_t>(occurrences_[v]) * P * K;
  }
  walk_node_.assign(walk_begin_[nb], -1);
  walk_weight_.assign(walk_begin_[nb], 0.0f);
  // A walk's random numbers are a function of (seed, call, node, walk) only,
  // so the result does not depend on the thread count.
  const uint64_t step_key = SplitMix64(seed_ ^ SplitMix64(++walk_round_));
#pragma omp parallel for schedule(static) if (walk_begin_[nb] >= 4096)
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = batch_nodes_[q];
    const int64_t n_walks = (walk_begin_[q + 1] - walk_begin_[q]) / K;
    for (int64_t p = 0; p < n_walks; ++p) {
      uint64_t state =
          SplitMix64(SplitMix64(step_key ^ static_cast<uint64_t>(v)) + static_cast<uint64_t>(p));
      int32_t x = v;
      float w = 1.0f / static_cast<float>(n_walks);
      const int64_t at = walk_begin_[q] + p * K;
      for (int k = 0; k < K; ++k) {
        const int64_t deg = g.offsets[x + 1] - g.offsets[x];
        if (deg == 0) break;
        state = SplitMix64(state);
        const int64_t e = g.offsets[x] + static_cast<int64_t>(state % static_cast<uint64_t>(deg));
        w *= g.vals[e] * static_cast<float>(deg);
        x = g.cols[e];
        walk_node_[at + k] = x;
        walk_weight_[at + k] = w * inv;
      }
    }
  }
  for (int32_t v : batch_nodes_) occurrences_[v] = 0;
  // The rows this step reads or writes, brought up to date.
  touched_ = batch_nodes_;
  for (int32_t v : batch_nodes_) mark_[v] = 1;
  for (int32_t x : walk_node_) {
    if (x >= 0 && !mark_[x]) {
      mark_[x] = 1;
      touched_.push_back(x);
    }
  }
  for (int32_t x : touched_) mark_[x] = 0;
  adam_.CatchUp(touched_, ego_.data());

  // Forward: the history plus the live change of the node's own E(0).
  // (Adding the change along the walks, an unbiased estimate of the rest,
  // measured no better on the 1.5M shop: 0.0475 against 0.0486 ndcg@20
  // after 8 epochs.)
#pragma omp parallel for schedule(static) if (nb * d >= kParallelMinWork)
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = batch_nodes_[q];
    float* f = row(fin_, v);
    const float* h = row(hist_final_, v);
    const float* e = row(ego_, v);
    const float* e0 = row(hist_ego_, v);
    float* gv = row(g_, v);
    for (int j = 0; j < d; ++j) {
      f[j] = h[j] + inv * (e[j] - e0[j]);
      gv[j] = 0;
    }
  }
  const double loss = Loss(users, pos, neg, reg, fin_.data(), g_.data());

  // Backward: the node's own term, then each walk's share.
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = batch_nodes_[q];
    const float* gv = row(g_, v);
    float* gr = row(grad_, v);
    for (int j = 0; j < d; ++j) gr[j] += inv * gv[j];
    for (int64_t k = walk_begin_[q]; k < walk_begin_[q + 1]; ++k) {
      const int32_t x = walk_node_[k];
      if (x < 0) continue;
      const float w = walk_weight_[k];
      float* gx = row(grad_, x);
      for (int j = 0; j < d; ++j) gx[j] += w * gv[j];
    }
  }
  return loss;
}

void LightGcnCore::Expand(const std::vector<int32_t>& nodes, std::vector<int32_t>* out,
                          bool* all) {
  const NormalizedGraph& g = *graph_;
  out->clear();
  // Half the nodes or more reach (nearly) all of them in one hop on these
  // graphs: take every node without scanning their edges. More rows than
  // needed is always correct, only dearer.
  if (nodes.size() * 2 >= static_cast<size_t>(g.n())) {
    *all = true;
    return;
  }
  for (int32_t v : nodes) {
    if (!mark_[v]) {
      mark_[v] = 1;
      out->push_back(v);
    }
    for (int64_t e = g.offsets[v]; e < g.offsets[v + 1]; ++e) {
      int32_t c = g.cols[e];
      if (!mark_[c]) {
        mark_[c] = 1;
        out->push_back(c);
      }
    }
  }
  // Half the nodes or more: every row is cheaper. A pass over every row
  // prefetches the rows it gathers (graph.cc); one over a list does not.
  // Measured: 90 % → half made the 1.5M and 15M shops' epochs 6-11 %
  // shorter (at 15M the hop sets cover 50-90 % of the nodes); the same
  // rows' values (the rows added sum zeros).
  *all = out->size() * 2 >= static_cast<size_t>(g.n());
  if (out->size() * 8 >= static_cast<size_t>(g.n())) {
    // Large: a scan in node order beats sorting (and keeps memory access in order).
    out->clear();
    TakeMarked(out);
  } else {
    for (int32_t v : *out) mark_[v] = 0;
    std::sort(out->begin(), out->end());
  }
  if (*all) out->clear();
}

namespace {

double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double Sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

}  // namespace

double LightGcnCore::BprLoss(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                             const std::vector<int32_t>& neg, double reg, const float* fin,
                             float* g) {
  const int d = d_;
  const int32_t nu = graph_->n_users;
  const size_t b = users.size();
  const size_t per = neg.size() / b;
  const double pairs = static_cast<double>(b * per);
  auto row = [d](const float* m, int32_t v) { return m + static_cast<int64_t>(v) * d; };
  auto mrow = [d](float* m, int32_t v) { return m + static_cast<int64_t>(v) * d; };
  // Scores in parallel (reads only); per-pair terms kept so that the sums
  // below run in a fixed order whatever the thread count.
  coef_.resize(b * per);
  pair_loss_.resize(b * per);
  sample_reg_.resize(b);
  const int64_t nb = static_cast<int64_t>(b);
  const bool l2 = reg != 0;  // L2 terms (none: zero, or added by the caller)
  // Sample t's rows of m asked for ahead (random rows of a large model).
  auto prefetch = [&](int64_t t, const float* m) {
    if (t >= nb) return;
    PrefetchRow(m, users[t], d);
    PrefetchRow(m, nu + pos[t], d);
    for (size_t s = 0; s < per; ++s) PrefetchRow(m, nu + neg[t * per + s], d);
  };
#pragma omp parallel for schedule(static) if (nb * d * (per + 2) >= kParallelMinWork)
  for (int64_t t = 0; t < nb; ++t) {
    prefetch(t + kRowsAhead, fin);
    if (l2 && fin != ego_.data()) prefetch(t + kRowsAhead, ego_.data());
    const int32_t u = users[t], p = nu + pos[t];
    const float* fu = row(fin, u);
    const float sp = Dot(fu, row(fin, p), d);
    const float* eu = row(ego_.data(), u);
    const float* ep = row(ego_.data(), p);
    double r = l2 ? Dot(eu, eu, d) + Dot(ep, ep, d) : 0.0;
    for (size_t s = 0; s < per; ++s) {
      const int32_t j = nu + neg[t * per + s];
      const double x = static_cast<double>(Dot(fu, row(fin, j), d)) - sp;
      pair_loss_[t * per + s] = Softplus(x);
      coef_[t * per + s] = static_cast<float>(Sigmoid(x) / pairs);
      if (l2) {
        const float* ej = row(ego_.data(), j);
        r += Dot(ej, ej, d);
      }
    }
    sample_reg_[t] = r;
  }
  // The gradient's rows: g's rows by node, or, with packed_slot_ (BPR-MF's
  // step), a small buffer's by the node's place among the batch's nodes,
  // where the L2 terms go too.
  const int32_t* slot = packed_slot_;
  auto grow = [&](int32_t v) { return g + static_cast<int64_t>(slot ? slot[v] : v) * d; };
  double loss = 0, reg_sum = 0;
  for (size_t t = 0; t < b; ++t) {
    if (!slot) prefetch(t + kRowsAhead, g);
    prefetch(t + kRowsAhead, fin);
    reg_sum += sample_reg_[t];
    const int32_t u = users[t], p = nu + pos[t];
    const float* fu = row(fin, u);
    const float* fp = row(fin, p);
    float* gu = grow(u);
    float* gp = grow(p);
    for (size_t s = 0; s < per; ++s) {
      loss += pair_loss_[t * per + s];
      const float c = coef_[t * per + s];
      const int32_t j = nu + neg[t * per + s];
      const float* fj = row(fin, j);
      float* gj = grow(j);
      for (int k = 0; k < d; ++k) {
        gu[k] += c * (fj[k] - fp[k]);
        gp[k] -= c * fu[k];
        gj[k] += c * fu[k];
      }
    }
  }
  if (!l2) return loss / pairs;
  // L2 on the batch's ego embeddings, one term per occurrence.
  const float rc = static_cast<float>(reg / b);
  auto add_reg = [&](int32_t v) {
    const float* e = row(ego_.data(), v);
    float* gr = slot ? grow(v) : mrow(grad_.data(), v);
    for (int k = 0; k < d; ++k) gr[k] += rc * e[k];
  };
  for (size_t t = 0; t < b; ++t) {
    if (!slot) {  // packed: the buffer and E(0)'s rows were just used above
      prefetch(t + kRowsAhead, grad_.data());
      prefetch(t + kRowsAhead, ego_.data());
    }
    add_reg(users[t]);
    add_reg(nu + pos[t]);
    for (size_t s = 0; s < per; ++s) add_reg(nu + neg[t * per + s]);
  }
  return loss / pairs + reg * 0.5 * reg_sum / static_cast<double>(b);
}

double LightGcnCore::LossAndGradient(const std::vector<int32_t>& users,
                                     const std::vector<int32_t>& pos,
                                     const std::vector<int32_t>& neg, double reg) {
  const NormalizedGraph& graph = *graph_;
  const int d = d_, K = layers_;
  const float inv = 1.0f / static_cast<float>(K + 1);
  auto row = [d](std::vector<float>& m, int32_t v) { return m.data() + static_cast<int64_t>(v) * d; };

  // hops[h]: nodes within h hops of the batch (empty + all[h]: every node).
  std::vector<std::vector<int32_t>> hops(K + 1);
  std::vector<bool> all(K + 1, false);
  {
    BatchNodes(users, pos, neg, &hops[0]);
    for (int h = 1; h <= K; ++h) {
      if (all[h - 1]) {
        all[h] = true;
        continue;
      }
      bool a = false;
      Expand(hops[h - 1], &hops[h], &a);
      all[h] = a;
    }
  }
  auto rows_of = [&](int h) { return all[h] ? nullptr : &hops[h]; };
  if (fin_.empty()) {
    fin_.assign(ego_.size(), 0.0f);
    g_.assign(ego_.size(), 0.0f);
  }
  if (grad_.empty()) grad_.assign(ego_.size(), 0.0f);

  // Forward: layer k on the nodes within K−k hops.
  for (int k = 1; k <= K; ++k) {
    const float* in = k == 1 ? ego_.data() : layer_[k - 2].data();
    Propagate(graph, in, d, layer_[k - 1].data(), rows_of(K - k));
  }
  const int64_t nb = static_cast<int64_t>(hops[0].size());
#pragma omp parallel for schedule(static) if (nb * d * (K + 1) >= kParallelMinWork)
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = hops[0][q];
    float* f = row(fin_, v);
    const float* e = row(ego_, v);
    for (int j = 0; j < d; ++j) f[j] = e[j];
    for (int k = 0; k < K; ++k) {
      const float* l = row(layer_[k], v);
      for (int j = 0; j < d; ++j) f[j] += l[j];
    }
    for (int j = 0; j < d; ++j) f[j] *= inv;
    float* gv = row(g_, v);
    for (int j = 0; j < d; ++j) gv[j] = 0;
  }
  // The L2 terms are added after the backward, in node order (AddL2InOrder).
  double loss = Loss(users, pos, neg, /*reg=*/0, fin_.data(), g_.data());

  // Backward: dE(0) = (1/(K+1)) Σ_k Â^k G, G = g_ (non-zero on the batch's
  // nodes hops[0]); the k = 0 term first, then each product adds its own
  // inside the propagation pass.
#pragma omp parallel for schedule(static) if (nb * d >= kParallelMinWork)
  for (int64_t q = 0; q < nb; ++q) {
    const int32_t v = hops[0][q];
    const float* gv = row(g_, v);
    float* gr = row(grad_, v);
    for (int j = 0; j < d; ++j) gr[j] += inv * gv[j];
  }
  const float* cur = g_.data();
  for (int k = 1; k <= K; ++k) {
    // The forward's layers are no longer needed: their storage serves as the
    // backward's ping-pong buffers (two n × d arrays less to hold). The last
    // product is only added to the gradient (nothing written).
    float* next = k == K ? nullptr : layer_[(k - 1) % 2].data();
    const uint8_t* mask = nullptr;
    if (!all[k - 1]) {
      for (int32_t v : hops[k - 1]) mark_[v] = 1;
      mask = mark_.data();
    }
    Propagate(graph, cur, d, next, rows_of(k), mask, grad_.data(), inv);
    if (mask) {
      for (int32_t v : hops[k - 1]) mark_[v] = 0;
    }
    cur = next;
  }
  grad_rows_all_ = all[K];
  return loss + AddL2InOrder(users, pos, neg, reg, hops[0]);
}

double LightGcnCore::AddL2InOrder(const std::vector<int32_t>& users, const std::vector<int32_t>& pos,
                                  const std::vector<int32_t>& neg, double reg,
                                  const std::vector<int32_t>& nodes) {
  const int d = d_;
  const int32_t nu = graph_->n_users;
  const double b = static_cast<double>(users.size());
  if (count_.empty()) count_.assign(graph_->n(), 0);
  ForEachOccurrence(nu, users, pos, neg, [&](int32_t v) { ++count_[v]; });
  const float rc = static_cast<float>(reg / b);
  // Fixed blocks, their sums added in order: the same loss whatever the
  // thread count.
  constexpr int64_t kBlock = 4096;
  const int64_t n = static_cast<int64_t>(nodes.size());
  std::vector<double> part((n + kBlock - 1) / kBlock, 0.0);
#pragma omp parallel for schedule(static) if (n * d >= kParallelMinWork)
  for (int64_t blk = 0; blk < static_cast<int64_t>(part.size()); ++blk) {
    double s = 0;
    for (int64_t q = blk * kBlock; q < std::min(n, (blk + 1) * kBlock); ++q) {
      const int32_t v = nodes[q];
      const int32_t c = count_[v];
      count_[v] = 0;
      const float* e = ego_.data() + static_cast<int64_t>(v) * d;
      float* gr = grad_.data() + static_cast<int64_t>(v) * d;
      s += c * static_cast<double>(Dot(e, e, d));
      const float w = rc * static_cast<float>(c);
      for (int k = 0; k < d; ++k) gr[k] += w * e[k];
    }
    part[blk] = s;
  }
  double sum = 0;
  for (double s : part) sum += s;
  return reg * 0.5 * sum / b;
}

double LightGcnCore::LossAndGradientReference(const std::vector<int32_t>& users,
                                              const std::vector<int32_t>& pos,
                                              const std::vector<int32_t>& neg, double reg) {
  const NormalizedGraph& graph = *graph_;
  const int d = d_, K = layers_;
  const size_t size = static_cast<size_t>(graph.n()) * d;
  std::vector<std::vector<float>> layers(K + 1, std::vector<float>(size));
  layers[0] = ego_;
  for (int k = 1; k <= K; ++k) PropagateReference(graph, layers[k - 1].data(), d, layers[k].data());
  std::vector<float> fin(size, 0.0f), g(size, 0.0f);
  for (size_t i = 0; i < size; ++i) {
    double s = 0;
    for (int k = 0; k <= K; ++k) s += layers[k][i];
    fin[i] = static_cast<float>(s / (K + 1));
  }
  grad_.assign(size, 0.0f);
  double loss = Loss(users, pos, neg, reg, fin.data(), g.data());
  std::vector<float> x = g, y(size);
  for (int k = 0; k <= K; ++k) {
    if (k > 0) {
      PropagateReference(graph, x.data(), d, y.data());
      x.swap(y);
    }
    for (size_t i = 0; i < size; ++i) grad_[i] += x[i] / static_cast<float>(K + 1);
  }
  grad_rows_all_ = true;
  return loss;
}

void LightGcnCore::AdamStep(double lr) { adam_.StepAll(ego_.data(), grad_.data(), lr); }

void LightGcnCore::FullForward(std::vector<float>* final_emb) {
  Sync();
  const NormalizedGraph& graph = *graph_;
  const int d = d_, K = layers_;
  const float inv = 1.0f / static_cast<float>(K + 1);
  const int64_t size = static_cast<int64_t>(ego_.size());
  final_emb->resize(ego_.size());
  // final = (E0 + E1 + … + EK)/(K+1), accumulated into the output layer by
  // layer over two scratch buffers (the exact step's layer storage when it
  // has two, else temporary ones).
  std::vector<float> own_a, own_b;
  float* bufs[2];
  if (layer_.size() >= 2) {
    bufs[0] = layer_[0].data();
    bufs[1] = layer_[1].data();
  } else if (K > 0) {
    own_a.resize(ego_.size());
    own_b.resize(K > 1 ? ego_.size() : 0);
    bufs[0] = own_a.data();
    bufs[1] = own_b.data();
  }
  float* out = final_emb->data();
#pragma omp parallel for schedule(static) if (size >= kParallelMinWork)
  for (int64_t i = 0; i < size; ++i) out[i] = ego_[i];
  const float* in = ego_.data();
  for (int k = 1; k <= K; ++k) {
    float* next = bufs[(k - 1) % 2];
    Propagate(graph, in, d, next, nullptr, nullptr, out, 1.0f);
    in = next;
  }
#pragma omp parallel for schedule(static) if (size >= kParallelMinWork)
  for (int64_t i = 0; i < size; ++i) out[i] *= inv;
}

namespace {

// The sampler's look-ups of users[t] (its items, their cumulative weights)
// asked for ahead, and the offset of a user further on, on which their
// place depends: a large shop's lists are not in the cache, and each
// look-up would wait on memory (measured: the 15M shop's sampling 2.2 → 1.5 s
// an epoch).
void PrefetchUserItems(const UserItems& train, const std::vector<double>& cum,
                       const std::vector<int32_t>& users, int64_t t) {
  const int64_t n = static_cast<int64_t>(users.size());
  if (t + kRowsAhead < n) __builtin_prefetch(&train.offsets[users[t + kRowsAhead]], 0, 0);
  if (t >= n) return;
  const int64_t lo = train.offsets[users[t]];
  __builtin_prefetch(&train.items[lo], 0, 0);
  if (!cum.empty()) __builtin_prefetch(&cum[lo], 0, 0);
}

// One of u's positives: uniform (as the reference) without weights, else in
// proportion to the pair's weight.
int32_t PickPositive(const UserItems& train, const std::vector<double>& cum, int32_t u,
                     std::mt19937_64& rng) {
  const int64_t lo = train.offsets[u], n = train.degree(u);
  if (cum.empty()) return train.items[lo + static_cast<int64_t>(rng() % n)];
  const double total = cum[lo + n - 1];
  const double r = std::uniform_real_distribution<double>(0.0, total)(rng);
  int64_t k = std::upper_bound(cum.begin() + lo, cum.begin() + lo + n, r) - (cum.begin() + lo);
  return train.items[lo + std::min(k, n - 1)];
}

// LightGCN, or BPR-MF when `layers` is forced to 0: the same loss, sampler
// and optimiser.
class BprEmbeddingModel final : public Model {
 public:
  BprEmbeddingModel(std::string name, int force_layers)
      : name_(std::move(name)), force_layers_(force_layers) {}
  std::string name() const override { return name_; }
  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    RETURN_IF_ERROR(CheckFoldIn(items, static_cast<int64_t>(items_.size() / d_)));
    return WeightedMeanOfItems(items_, d_, items);
  }
  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    ModelArtifact a = ExportEmbeddings(name_, d_, users_, items_,
                                       "{\"best_epoch\":" + std::to_string(best_epoch_) + "}");
    if (!ego_.empty()) {  // LightGCN: E(0) differs from the final embeddings
      a.user_ego.assign(ego_.begin(), ego_.begin() + users_.size());
      a.item_ego.assign(ego_.begin() + users_.size(), ego_.end());
    }
    return a;
  }
  Status Restore(const ModelArtifact& a) override {
    RETURN_IF_ERROR(CheckArtifact(a, name_));
    d_ = static_cast<int>(a.dim);
    users_ = a.user_emb;
    items_ = a.item_emb;
    ego_.clear();
    if (!a.user_ego.empty()) {
      ego_ = a.user_ego;
      ego_.insert(ego_.end(), a.item_ego.begin(), a.item_ego.end());
    }
    best_epoch_ = 0;
    return Status::Ok();
  }
  int dim() const override { return d_; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return best_epoch_; }

  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    RETURN_IF_ERROR(opt.Validate());
    if (data.train.size() == 0) return Status::FailedPrecondition("no training interactions");
    if (opt.threads > 0) omp_set_num_threads(opt.threads);
    d_ = opt.embedding_dim;
    NormalizedGraph graph = NormalizedGraph::Build(data);
    const int layers = force_layers_ >= 0 ? force_layers_ : opt.num_layers;
    const bool sampled = layers > 0 && opt.walks > 0;
    LightGcnCore core(&graph, d_, layers, opt.seed, layers > 0 ? opt.walks : 0);
    const bool softmax = opt.loss == TrainOptions::Loss::kSoftmax;
    if (softmax) core.SetSoftmax(opt.temperature);
    const int64_t batch = opt.BatchSizeFor(data.train.size(), layers > 0 && !sampled);
    const int64_t steps_per_epoch = (data.train.size() + batch - 1) / batch;
    const int64_t refresh_every =
        std::max<int64_t>(1, (steps_per_epoch + opt.refreshes - 1) / opt.refreshes);
    if (opt.warm_start) {
      float* e = core.ego().data();
      RETURN_IF_ERROR(ApplyWarmStart(*opt.warm_start, d_, e, data.n_users,
                                     e + static_cast<int64_t>(data.n_users) * d_, data.n_items));
    }

    std::vector<int32_t> samplable;  // users with positives and at least one negative
    for (int32_t u = 0; u < data.n_users; ++u) {
      if (data.train.degree(u) > 0 && data.train.degree(u) < data.n_items) samplable.push_back(u);
    }
    if (samplable.empty()) return Status::FailedPrecondition("no user has a possible negative");
    const int64_t n_samples = data.train.size();
    const int S = opt.negative_samples;
    // Weighted pairs (interaction types) are drawn in proportion to their
    // weight: cumulative weights per user, aligned with the items.
    std::vector<double> cum;
    if (!data.train.weights.empty()) {
      cum.resize(data.train.items.size());
      for (int32_t u = 0; u < data.n_users; ++u) {
        double run = 0;
        for (int64_t e = data.train.offsets[u]; e < data.train.offsets[u + 1]; ++e) {
          run += data.train.weights[e];
          cum[e] = run;
        }
      }
    }
    // The sampler reads these at random, as the steps read the model's rows.
    PreferHugePages(data.train.items.data(), data.train.items.size() * sizeof(int32_t));
    PreferHugePages(data.train.offsets.data(), data.train.offsets.size() * sizeof(int64_t));
    PreferHugePages(cum.data(), cum.size() * sizeof(double));
    std::vector<int32_t> users, pos, neg;
    double best_score = -1;
    int evals_without_gain = 0;
    std::vector<float> best_ego;
    best_epoch_ = opt.epochs;
    const int main_k = std::find(opt.ks.begin(), opt.ks.end(), 10) != opt.ks.end()
                           ? 10
                           : (opt.ks.empty() ? 10 : opt.ks.front());
    const std::vector<int> eval_ks = opt.ks.empty() ? std::vector<int>{10} : opt.ks;
    int epochs_run = 0;
    const bool keep_best = opt.patience > 0 || opt.time_budget_seconds > 0;
    const auto fit_start = std::chrono::steady_clock::now();
    for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
      epochs_run = epoch;
      auto t0 = std::chrono::steady_clock::now();
      const double aside0 = SecondsAside(opt);
      // Uniform sampling as in the reference: a random user, one of its
      // positives, negatives drawn uniformly among the items it has not seen.
      std::mt19937_64 rng(opt.seed * 1000003 + epoch);
      double loss_sum = 0;
      int batches = 0;
      for (int64_t start = 0; start < n_samples; start += batch) {
        StepAsideForRequests(opt);
        if (Cancelled(opt)) return CancelledStatus();
        const int64_t b = std::min<int64_t>(batch, n_samples - start);
        users.resize(b);
        pos.resize(b);
        // BPR: S negatives per positive, unseen by its user; the softmax: one
        // list shared by the batch, uniform over the catalog.
        const int per_positive = softmax ? 0 : S;
        neg.resize(softmax ? opt.softmax_negatives : b * S);
        if (softmax) {
          for (auto& j : neg) j = static_cast<int32_t>(rng() % data.n_items);
        }
        // The batch's users first, so that each one's list can be asked for
        // ahead of its positive and negatives.
        for (int64_t t = 0; t < b; ++t) users[t] = samplable[rng() % samplable.size()];
        for (int64_t t = 0; t < b; ++t) {
          PrefetchUserItems(data.train, cum, users, t + kRowsAhead);
          const int32_t u = users[t];
          pos[t] = PickPositive(data.train, cum, u, rng);
          for (int s = 0; s < per_positive; ++s) {
            int32_t j;
            do {
              j = static_cast<int32_t>(rng() % data.n_items);
            } while (data.train.Contains(u, j));
            neg[t * S + s] = j;
          }
        }
        if (sampled && batches % refresh_every == 0) core.Refresh();
        loss_sum += core.TrainStep(users, pos, neg, opt.reg, opt.learning_rate);
        ++batches;
      }
      EpochReport report;
      report.epoch = epoch;
      report.loss = loss_sum / batches;
      report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      report.paused_seconds = SecondsAside(opt) - aside0;
      bool last = epoch == opt.epochs;
      // Out of time when another epoch like this one would end past the budget.
      const bool out_of_time =
          opt.time_budget_seconds > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - fit_start).count() + report.seconds >
              opt.time_budget_seconds;
      report.out_of_time = out_of_time;
      if (out_of_time) last = true;
      if (opt.eval_every > 0 && data.test.size() > 0 && (epoch % opt.eval_every == 0 || last)) {
        report.eval_seconds = ValidationSeconds(opt, [&] {
          Publish(core, data);
          report.metrics = Evaluate(data, users_.data(), items_.data(), d_, eval_ks, nullptr, opt.step_aside);
        });
        double score = report.metrics->Get("ndcg@" + std::to_string(main_k));
        if (score > best_score) {
          best_score = score;
          best_epoch_ = epoch;
          evals_without_gain = 0;
          if (keep_best) {
            core.Sync();
            best_ego = core.ego();
          }
        } else {
          ++evals_without_gain;
        }
        if (opt.patience > 0 && evals_without_gain >= opt.patience) last = true;
      }
      if (progress) progress(report);
      if (last) break;
    }
    if (keep_best && !best_ego.empty()) {
      core.Sync();  // every row current first, or the next read would move the restored rows
      core.ego() = std::move(best_ego);  // early stopping keeps the best evaluation's model
    } else {
      best_epoch_ = epochs_run;  // the last epoch's embeddings are the ones kept
    }
    Publish(core, data);  // syncs E(0)
    if (layers > 0) ego_ = std::move(core.ego());
    else ego_.clear();
    return Status::Ok();
  }

 private:
  void Publish(LightGcnCore& core, const Dataset& data) {
    std::vector<float> fin;
    core.FullForward(&fin);
    const size_t split = static_cast<size_t>(data.n_users) * d_;
    users_.assign(fin.begin(), fin.begin() + split);
    items_.assign(fin.begin() + split, fin.end());
  }

  std::string name_;
  int force_layers_;  // -1: options.num_layers
  int d_ = 0;
  int best_epoch_ = 0;
  std::vector<float> users_, items_;
  std::vector<float> ego_;  // E(0), users then items, when layers > 0 (for warm starts)
};

}  // namespace

std::unique_ptr<Model> NewLightGcn() { return std::make_unique<BprEmbeddingModel>("lightgcn", -1); }
std::unique_ptr<Model> NewBprMf() { return std::make_unique<BprEmbeddingModel>("bpr_mf", 0); }

}  // namespace embedrec::ml
