#include "ml/evaluator.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace embedrec::ml {

void AddUserMetrics(const std::vector<int32_t>& ranked, const int32_t* rel_begin,
                    const int32_t* rel_end, const std::vector<int>& ks,
                    std::map<std::string, double>* sums) {
  const int64_t n_rel = rel_end - rel_begin;
  for (int k : ks) {
    double hits = 0, dcg = 0, idcg = 0, rr = 0;
    int limit = std::min<int>(k, static_cast<int>(ranked.size()));
    for (int r = 0; r < limit; ++r) {
      if (std::binary_search(rel_begin, rel_end, ranked[r])) {
        hits += 1;
        dcg += 1.0 / std::log2(r + 2.0);
        if (rr == 0) rr = 1.0 / (r + 1);
      }
    }
    for (int r = 0; r < std::min<int64_t>(k, n_rel); ++r) idcg += 1.0 / std::log2(r + 2.0);
    std::string at = "@" + std::to_string(k);
    (*sums)["recall" + at] += n_rel > 0 ? hits / static_cast<double>(n_rel) : 0;
    (*sums)["precision" + at] += hits / k;
    (*sums)["ndcg" + at] += idcg > 0 ? dcg / idcg : 0;
    (*sums)["hit_rate" + at] += hits > 0 ? 1 : 0;
    (*sums)["mrr" + at] += rr;
  }
}

void SampleEvalUsers(Dataset* data, int64_t max_users, uint64_t seed) {
  data->eval_users.clear();
  std::vector<int32_t> users;
  for (int32_t u = 0; u < data->n_users; ++u) {
    if (data->test.num_users() > u && data->test.degree(u) > 0) users.push_back(u);
  }
  if (max_users <= 0 || static_cast<int64_t>(users.size()) <= max_users) return;
  // A seeded partial Fisher–Yates shuffle: the first max_users are the sample.
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < max_users; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, static_cast<int64_t>(users.size()) - 1);
    std::swap(users[i], users[pick(rng)]);
  }
  users.resize(max_users);
  std::sort(users.begin(), users.end());
  data->eval_users = std::move(users);
}

Metrics Evaluate(const Dataset& data, const float* user_emb, const float* item_emb, int d,
                 const std::vector<int>& ks, const UserItems* excluded, StepAside* step_aside) {
  Metrics out;
  const UserItems& masked = excluded ? *excluded : data.train;
  if (ks.empty()) return out;
  const int kmax = *std::max_element(ks.begin(), ks.end());
  std::vector<int32_t> users;
  for (int32_t u = 0; u < data.n_users; ++u) {
    if (data.test.num_users() > u && data.test.degree(u) > 0) users.push_back(u);
  }
  out.population = static_cast<int64_t>(users.size());
  if (!data.eval_users.empty()) {
    std::vector<int32_t> sampled;
    for (int32_t u : data.eval_users) {
      if (data.test.num_users() > u && data.test.degree(u) > 0) sampled.push_back(u);
    }
    users.swap(sampled);
  }
  const int32_t ni = data.n_items;
  constexpr int kBlock = 256;
  std::vector<float> scores(static_cast<size_t>(kBlock) * ni);
  std::vector<float> block_emb(static_cast<size_t>(kBlock) * d);
  std::vector<std::vector<int32_t>> top(users.size());
  for (size_t b0 = 0; b0 < users.size(); b0 += kBlock) {
    const int nb = static_cast<int>(std::min<size_t>(kBlock, users.size() - b0));
    if (step_aside && b0 > 0) step_aside->Between();
    for (int i = 0; i < nb; ++i) {
      std::copy_n(user_emb + static_cast<int64_t>(users[b0 + i]) * d, d,
                  block_emb.data() + static_cast<int64_t>(i) * d);
    }
    // scores (nb × ni) = block_emb (nb × d) · item_embᵀ
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, ni, d, 1.0f, block_emb.data(), d,
                item_emb, d, 0.0f, scores.data(), ni);
#pragma omp parallel for schedule(dynamic, 8) if (int64_t{nb} * ni >= (1 << 16))
    for (int i = 0; i < nb; ++i) {
      const int32_t u = users[b0 + i];
      float* s = scores.data() + static_cast<int64_t>(i) * ni;
      if (u < masked.num_users()) {
        for (const int32_t* it = masked.begin(u); it != masked.end(u); ++it) {
          s[*it] = -std::numeric_limits<float>::infinity();
        }
      }
      // Min-heap of the best kmax (worst on top); better = higher score, then lower index.
      using Entry = std::pair<float, int32_t>;
      auto better = [](const Entry& a, const Entry& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      };
      std::vector<Entry> heap;
      heap.reserve(kmax + 1);
      for (int32_t j = 0; j < ni; ++j) {
        if (s[j] == -std::numeric_limits<float>::infinity()) continue;
        Entry e{s[j], j};
        if (static_cast<int>(heap.size()) < kmax) {
          heap.push_back(e);
          std::push_heap(heap.begin(), heap.end(), better);
        } else if (better(e, heap.front())) {
          std::pop_heap(heap.begin(), heap.end(), better);
          heap.back() = e;
          std::push_heap(heap.begin(), heap.end(), better);
        }
      }
      std::sort(heap.begin(), heap.end(), better);
      auto& t = top[b0 + i];
      t.resize(heap.size());
      for (size_t r = 0; r < heap.size(); ++r) t[r] = heap[r].second;
    }
  }
  // Sums in user order: the same result whatever the thread count.
  const bool sampled = static_cast<int64_t>(users.size()) < out.population;
  std::map<std::string, double> sums, squares, one;
  std::vector<std::vector<uint8_t>> seen(ks.size(), std::vector<uint8_t>(ni, 0));
  std::vector<int64_t> distinct(ks.size(), 0);
  for (size_t i = 0; i < users.size(); ++i) {
    if (sampled) {
      one.clear();
      AddUserMetrics(top[i], data.test.begin(users[i]), data.test.end(users[i]), ks, &one);
      for (const auto& [name, x] : one) {
        sums[name] += x;
        squares[name] += x * x;
      }
    } else {
      AddUserMetrics(top[i], data.test.begin(users[i]), data.test.end(users[i]), ks, &sums);
    }
    for (size_t q = 0; q < ks.size(); ++q) {
      for (int r = 0; r < std::min<int>(ks[q], static_cast<int>(top[i].size())); ++r) {
        if (!seen[q][top[i][r]]) {
          seen[q][top[i][r]] = 1;
          ++distinct[q];
        }
      }
    }
  }
  out.users = static_cast<int64_t>(users.size());
  for (auto& [name, sum] : sums) out.values[name] = users.empty() ? 0 : sum / users.size();
  if (sampled && users.size() > 1) {
    const double n = static_cast<double>(users.size()), pop = static_cast<double>(out.population);
    const double fpc = std::sqrt((pop - n) / (pop - 1));
    for (const auto& [name, sum] : sums) {
      const double mean = sum / n;
      const double var = std::max(0.0, (squares[name] - n * mean * mean) / (n - 1));
      out.std_errors[name] = std::sqrt(var / n) * fpc;
    }
  }
  for (size_t q = 0; q < ks.size(); ++q) {
    out.values["coverage@" + std::to_string(ks[q])] =
        ni > 0 ? static_cast<double>(distinct[q]) / ni : 0;
  }
  return out;
}

}  // namespace embedrec::ml
