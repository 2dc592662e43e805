#include "ml/similar_items.h"

#include <cblas.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>
#include <numeric>

namespace embedrec::ml {

SimilarShareFit FitSimilarCategoryShare(const Dataset& data, const Model& model, bool item_to_item,
                                        const std::vector<int32_t>& item_categories, int64_t max_users,
                                        StepAside* step_aside) {
  SimilarShareFit fit;
  constexpr size_t kShares = std::size(kSimilarCategoryShares);
  fit.hit_at.assign(kShares, 0.0);
  const int32_t n_items = data.n_items;
  const int d = model.dim();
  const auto& items = model.item_embeddings();
  if (data.test.size() == 0 || static_cast<int32_t>(item_categories.size()) < n_items || d <= 0 ||
      static_cast<int64_t>(items.size()) < static_cast<int64_t>(n_items) * d) {
    return fit;
  }
  // Each user's newest training item (the anchor), and every item's users.
  std::vector<int32_t> anchor(data.n_users, -1);
  std::vector<int64_t> newest(data.n_users, INT64_MIN);
  for (const Interaction& e : data.train_events) {
    if (e.user < 0 || e.user >= data.n_users || e.item < 0 || e.item >= n_items) continue;
    if (e.ts >= newest[e.user]) newest[e.user] = e.ts, anchor[e.user] = e.item;
  }
  std::vector<int64_t> count(n_items, 0);
  for (int32_t i : data.train.items) ++count[i];
  // Each category's bestsellers, best first (ties: the lower row).
  int32_t n_categories = 0;
  for (int32_t c : item_categories) n_categories = std::max(n_categories, c + 1);
  std::vector<std::vector<int32_t>> best(n_categories);
  for (int32_t i = 0; i < n_items; ++i) {
    if (item_categories[i] >= 0 && count[i] > 0) best[item_categories[i]].push_back(i);
  }
  for (auto& list : best) {
    const size_t keep = std::min(list.size(), kSimilarListSize + 1);
    std::partial_sort(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(keep), list.end(),
                      [&](int32_t a, int32_t b) { return count[a] != count[b] ? count[a] > count[b] : a < b; });
    list.resize(keep);
  }
  std::vector<int32_t> users;
  for (int32_t u = 0; u < data.n_users && u < data.test.num_users(); ++u) {
    if (data.test.degree(u) > 0 && anchor[u] >= 0 && item_categories[anchor[u]] >= 0) users.push_back(u);
  }
  if (users.empty()) return fit;
  // Each user scores every item: fewer users on a large catalog (200 on a
  // 1M-item one at 64 dimensions, ~13 GFLOP; a hit rate's standard error
  // there about ±3.5 %).
  const int64_t affordable = std::clamp<int64_t>(
      static_cast<int64_t>(2e9 / (static_cast<double>(n_items) * d)), std::min<int64_t>(200, max_users), max_users);
  const size_t step = std::max<size_t>(1, users.size() / static_cast<size_t>(std::max<int64_t>(1, affordable)));
  std::vector<float> scores(n_items);
  std::vector<int32_t> order(n_items);
  for (size_t n = 0; n < users.size(); n += step) {
    if (step_aside && fit.users > 0 && fit.users % 32 == 0) step_aside->Between();
    const int32_t u = users[n];
    const int32_t a = anchor[u];
    std::vector<float> q(items.begin() + static_cast<int64_t>(a) * d, items.begin() + static_cast<int64_t>(a + 1) * d);
    if (item_to_item) {
      auto folded = model.FoldIn({{a, 1.0f}});
      if (folded.ok() && static_cast<int>(folded->size()) == d) q = std::move(*folded);
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n_items, d, 1.0f, items.data(), d, q.data(), 1, 0.0f, scores.data(), 1);
    std::iota(order.begin(), order.end(), 0);
    const size_t top = std::min<size_t>(kSimilarListSize + 1, static_cast<size_t>(n_items));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](int32_t x, int32_t y) { return scores[x] != scores[y] ? scores[x] > scores[y] : x < y; });
    std::vector<int32_t> from_model, from_category;
    for (size_t r = 0; r < top; ++r) {
      if (order[r] != a) from_model.push_back(order[r]);
    }
    for (int32_t i : best[item_categories[a]]) {
      if (i != a) from_category.push_back(i);
    }
    // The chance that the list holds the user's next choice: the items of
    // their next visit, each at its chance of coming first, where the
    // held-out pairs carry times; else any held-out item counts.
    const bool by_visit = u < data.next_choices.num_users() && data.next_choices.degree(u) > 0;
    for (size_t s = 0; s < kShares; ++s) {
      double hit = 0;
      for (int32_t i : MixSimilar(from_model, from_category, kSimilarCategoryShares[s], kSimilarListSize)) {
        hit += by_visit ? data.next_choices.WeightOf(u, i) : (data.test.Contains(u, i) ? 1.0 : 0.0);
      }
      fit.hit_at[s] += std::min(1.0, hit);
    }
    ++fit.users;
  }
  size_t chosen = 0;
  for (size_t s = 1; s < kShares; ++s) {
    if (fit.hit_at[s] > fit.hit_at[chosen]) chosen = s;
  }
  for (double& h : fit.hit_at) h /= static_cast<double>(fit.users);
  fit.share = kSimilarCategoryShares[chosen];
  return fit;
}

double SimilarCategoryShare(std::string_view metadata_json) {
  boost::system::error_code ec;
  boost::json::value meta = boost::json::parse(metadata_json, ec);
  const boost::json::value* s =
      !ec && meta.is_object() ? meta.as_object().if_contains("similar_category_share") : nullptr;
  if (!s || !s->is_number()) return 0;
  const double v = s->to_number<double>();
  return std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 0;
}

}  // namespace embedrec::ml
