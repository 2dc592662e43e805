#include "ml/reranker.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <string>

#include <boost/json.hpp>

#include "ml/evaluator.h"

namespace embedrec::ml {
namespace json = boost::json;

namespace {

constexpr const char* kFeatureNames[Reranker::kFeatures] = {"relative_score", "log_position",
                                                            "recent_category_share", "log_users",
                                                            "log_recent_category_share", "had_item"};
// Users × items scored to fit (each validation user against every item).
constexpr int64_t kMaxScoredPairs = 400'000'000;
constexpr int kMaxUsers = 4000, kMinUsers = 50;
// The reranked order must beat the model's ndcg@10 by this factor (cross-fitted).
constexpr double kMinGain = 1.01;
constexpr double kStandardErrors = 2;
constexpr double kL2 = 1.0;  // on the standardised weights

using Row = std::array<double, Reranker::kFeatures>;

struct Sample {
  std::vector<int32_t> items;  // the candidates, in the model's order
  std::vector<Row> features;
  int32_t user;
};

// Weighted-free logistic regression by Newton's method, features standardised.
Reranker Fit(const std::vector<const Sample*>& samples, const Dataset& data) {
  constexpr int F = Reranker::kFeatures;
  Reranker r;
  int64_t n = 0;
  for (const Sample* s : samples) {
    for (const Row& x : s->features) {
      for (int j = 0; j < F; ++j) r.mean[j] += x[j];
      ++n;
    }
  }
  for (int j = 0; j < F; ++j) r.mean[j] /= std::max<int64_t>(n, 1);
  for (const Sample* s : samples) {
    for (const Row& x : s->features) {
      for (int j = 0; j < F; ++j) r.scale[j] += (x[j] - r.mean[j]) * (x[j] - r.mean[j]);
    }
  }
  for (int j = 0; j < F; ++j) {
    const double sd = std::sqrt(r.scale[j] / std::max<int64_t>(n, 1));
    r.scale[j] = sd > 1e-12 ? 1 / sd : 0;
  }
  Eigen::Matrix<double, F + 1, 1> w = Eigen::Matrix<double, F + 1, 1>::Zero();
  for (int it = 0; it < 30; ++it) {
    Eigen::Matrix<double, F + 1, 1> g = Eigen::Matrix<double, F + 1, 1>::Zero();
    Eigen::Matrix<double, F + 1, F + 1> h = Eigen::Matrix<double, F + 1, F + 1>::Zero();
    for (const Sample* s : samples) {
      for (size_t k = 0; k < s->items.size(); ++k) {
        Eigen::Matrix<double, F + 1, 1> z;
        for (int j = 0; j < F; ++j) z[j] = (s->features[k][j] - r.mean[j]) * r.scale[j];
        z[F] = 1;
        const double p = 1 / (1 + std::exp(-w.dot(z)));
        const double y = data.test.Contains(s->user, s->items[k]) ? 1 : 0;
        g += (p - y) * z;
        h += std::max(p * (1 - p), 1e-9) * z * z.transpose();
      }
    }
    for (int j = 0; j < F; ++j) g[j] += kL2 * w[j], h(j, j) += kL2;
    const Eigen::Matrix<double, F + 1, 1> step = h.ldlt().solve(g);
    if (!step.allFinite()) break;
    w -= step;
    if (step.norm() < 1e-6) break;
  }
  for (int j = 0; j < F; ++j) r.weight[j] = w[j];
  r.bias = w[F];
  return r;
}

}  // namespace

std::vector<Row> Reranker::Features(const std::vector<Candidate>& in_model_order) {
  double best = 0;
  for (const auto& c : in_model_order) best = std::max(best, std::abs(c.score));
  std::vector<Row> out;
  out.reserve(in_model_order.size());
  for (size_t k = 0; k < in_model_order.size(); ++k) {
    const auto& c = in_model_order[k];
    out.push_back({best > 0 ? c.score / best : 0.0, std::log1p(static_cast<double>(k)), c.category_share,
                   c.log_users, std::log(c.category_share + kShareFloor), c.had ? 1.0 : 0.0});
  }
  return out;
}

double Reranker::Score(const Row& x) const {
  double z = bias;
  for (int j = 0; j < kFeatures; ++j) z += weight[j] * (x[j] - mean[j]) * scale[j];
  return z;
}

std::vector<size_t> Reranker::Order(const std::vector<Candidate>& in_model_order) const {
  const auto features = Features(in_model_order);
  std::vector<double> z(features.size());
  for (size_t k = 0; k < features.size(); ++k) z[k] = Score(features[k]);
  std::vector<size_t> order(features.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return z[a] > z[b]; });
  return order;
}

json::object Reranker::ToJson() const {
  json::array names, m, s, w;
  for (int j = 0; j < kFeatures; ++j) {
    names.push_back(json::string(kFeatureNames[j]));
    m.push_back(mean[j]);
    s.push_back(scale[j]);
    w.push_back(weight[j]);
  }
  return {{"features", names}, {"mean", m}, {"scale", s}, {"weight", w}, {"bias", bias},
          {"candidates", kCandidates}, {"recent_events", recent_events}};
}

std::optional<Reranker> Reranker::FromMetadata(std::string_view metadata_json) {
  boost::system::error_code ec;
  json::value meta = json::parse(metadata_json, ec);
  const json::value* v = !ec && meta.is_object() ? meta.as_object().if_contains("reranker") : nullptr;
  if (!v || !v->is_object()) return std::nullopt;
  const json::object& o = v->as_object();
  // Where each of our features is in the file's arrays (-1: not there).
  const json::value* names = o.if_contains("features");
  if (!names || !names->is_array()) return std::nullopt;
  const size_t n = names->as_array().size();
  std::array<int, kFeatures> at;
  at.fill(-1);
  for (size_t k = 0; k < n; ++k) {
    const json::value& name = names->as_array()[k];
    if (!name.is_string()) return std::nullopt;
    for (int j = 0; j < kFeatures; ++j) {
      if (name.as_string() == kFeatureNames[j]) at[j] = static_cast<int>(k);
    }
  }
  Reranker r;
  auto read = [&](const char* key, std::array<double, kFeatures>* out) {
    const json::value* a = o.if_contains(key);
    if (!a || !a->is_array() || a->as_array().size() != n) return false;
    for (int j = 0; j < kFeatures; ++j) {
      if (at[j] < 0) continue;  // weighs nothing (weight 0)
      const json::value& x = a->as_array()[at[j]];
      if (!x.is_number() || !std::isfinite(x.to_number<double>())) return false;
      (*out)[j] = x.to_number<double>();
    }
    return true;
  };
  const json::value* b = o.if_contains("bias");
  if (!read("mean", &r.mean) || !read("scale", &r.scale) || !read("weight", &r.weight) || !b ||
      !b->is_number()) {
    return std::nullopt;
  }
  r.bias = b->to_number<double>();
  // Files carry the window their shares were fitted on (every one written
  // has it); without it, this build's.
  if (const json::value* e = o.if_contains("recent_events"); e && e->is_int64()) {
    if (e->as_int64() < 1 || e->as_int64() > 1000) return std::nullopt;
    r.recent_events = static_cast<size_t>(e->as_int64());
  }
  return r;
}

json::object RerankerFit::ToJson() const {
  json::object o{{"kept", reranker.has_value()},
                 {"users", users},
                 {"ndcg@10", ndcg_at_10},
                 {"reranked_ndcg@10", reranked_ndcg_at_10},
                 {"hit_rate@20", hit_rate_at_20},
                 {"reranked_hit_rate@20", reranked_hit_rate_at_20},
                 {"precision@10", precision_at_10},
                 {"reranked_precision@10", reranked_precision_at_10}};
  if (reranker) o["weights"] = reranker->ToJson();
  if (!reason.empty()) o["reason"] = reason;
  return o;
}

RerankerSignals::RerankerSignals(const Dataset& data, const std::vector<int32_t>& item_category,
                                 const std::vector<int32_t>& users, size_t recent_events)
    : item_category_(item_category), had_(data.train), log_users_(data.n_items, 0.0), slot_(data.n_users, -1) {
  for (int32_t i : data.train.items) log_users_[i] += 1;
  for (double& x : log_users_) x = std::log1p(x);
  for (int32_t u : users) {
    if (u >= 0 && u < data.n_users && slot_[u] < 0) slot_[u] = static_cast<int32_t>(recent_share_.size()), recent_share_.emplace_back();
  }
  std::vector<std::vector<const Interaction*>> newest(recent_share_.size());
  for (const auto& e : data.train_events) {
    if (e.user >= 0 && e.user < data.n_users && slot_[e.user] >= 0 && e.weight > 0) newest[slot_[e.user]].push_back(&e);
  }
  for (size_t s = 0; s < newest.size(); ++s) {
    auto& events = newest[s];
    const size_t n_recent = std::min(events.size(), recent_events);
    std::partial_sort(events.begin(), events.begin() + n_recent, events.end(),
                      [](const Interaction* a, const Interaction* b) { return a->ts > b->ts; });
    std::map<int32_t, double> share;
    for (size_t k = 0; k < n_recent; ++k) {
      const int32_t c = item_category_.empty() ? -1 : item_category_[events[k]->item];
      if (c >= 0) share[c] += 1.0 / static_cast<double>(n_recent);
    }
    recent_share_[s].assign(share.begin(), share.end());
  }
}

std::vector<Reranker::Candidate> RerankerSignals::Candidates(
    int32_t u, const std::vector<std::pair<double, int32_t>>& model_order) const {
  static const std::vector<std::pair<int32_t, double>> kNone;
  const auto& shares = u >= 0 && u < static_cast<int32_t>(slot_.size()) && slot_[u] >= 0 ? recent_share_[slot_[u]] : kNone;
  std::vector<Reranker::Candidate> out;
  out.reserve(model_order.size());
  for (const auto& [score, i] : model_order) {
    const int32_t c = item_category_.empty() ? -1 : item_category_[i];
    double share = 0;
    if (c >= 0) {
      auto it = std::lower_bound(shares.begin(), shares.end(), std::make_pair(c, -1.0));
      if (it != shares.end() && it->first == c) share = it->second;
    }
    out.push_back({score, share, log_users_[i], had_.Contains(u, i)});
  }
  return out;
}

RerankerFit FitReranker(const Dataset& data, const float* users, const float* items, int dim,
                        const std::vector<int32_t>& item_category, uint64_t seed, const UserItems* excluded,
                        StepAside* step_aside) {
  const UserItems& masked = excluded ? *excluded : data.train;
  RerankerFit out;
  std::vector<int32_t> chosen;
  for (int32_t u = 0; u < data.test.num_users() && u < data.n_users; ++u) {
    if (data.test.degree(u) > 0 && data.train.degree(u) > 0) chosen.push_back(u);
  }
  std::mt19937_64 rng(seed ^ 0x7e7a7c3eULL);
  std::shuffle(chosen.begin(), chosen.end(), rng);
  const int64_t max_users =
      std::clamp<int64_t>(kMaxScoredPairs / std::max<int64_t>(1, int64_t{data.n_items} * dim / 64), kMinUsers,
                          kMaxUsers);
  if (static_cast<int64_t>(chosen.size()) > max_users) chosen.resize(max_users);
  out.users = static_cast<int64_t>(chosen.size());
  if (out.users < kMinUsers) {
    out.reason = "too few validation users (" + std::to_string(out.users) + ")";
    return out;
  }

  const RerankerSignals signals(data, item_category, chosen);
  std::vector<Sample> samples(chosen.size());
  constexpr size_t kBlock = 256;  // users scanned between two asks of step_aside
  for (size_t b0 = 0; b0 < chosen.size(); b0 += kBlock) {
    if (step_aside && b0 > 0) step_aside->Between();
    const size_t b1 = std::min(chosen.size(), b0 + kBlock);
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t s = b0; s < b1; ++s) {
      const int32_t u = chosen[s];
      const float* q = users + static_cast<int64_t>(u) * dim;
      std::vector<std::pair<float, int32_t>> scored;
      scored.reserve(data.n_items);
      for (int32_t i = 0; i < data.n_items; ++i) {
        if (masked.Contains(u, i)) continue;
        const float* e = items + static_cast<int64_t>(i) * dim;
        float ip = 0;
        for (int j = 0; j < dim; ++j) ip += q[j] * e[j];
        scored.emplace_back(ip, i);
      }
      const size_t k = std::min(Reranker::kCandidates, scored.size());
      std::partial_sort(scored.begin(), scored.begin() + k, scored.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      std::vector<std::pair<double, int32_t>> order;
      Sample& sample = samples[s];
      sample.user = u;
      for (size_t r = 0; r < k; ++r) {
        order.emplace_back(scored[r].first, scored[r].second);
        sample.items.push_back(scored[r].second);
      }
      sample.features = Reranker::Features(signals.Candidates(u, order));
    }
  }

  // Cross-fitted: each half ranked by the weights of the other.
  std::vector<const Sample*> halves[2];
  for (size_t s = 0; s < samples.size(); ++s) halves[s % 2].push_back(&samples[s]);
  std::map<std::string, double> model_sums, reranked_sums;
  std::vector<double> gains;  // per user: reranked ndcg@10 − the model's
  const std::vector<int> ks = {10, 20};
  for (int h = 0; h < 2; ++h) {
    const Reranker fitted = Fit(halves[1 - h], data);
    for (const Sample* s : halves[h]) {
      std::vector<double> z(s->items.size());
      for (size_t k = 0; k < z.size(); ++k) z[k] = fitted.Score(s->features[k]);
      std::vector<size_t> order(z.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return z[a] > z[b]; });
      std::vector<int32_t> reranked;
      for (size_t k : order) reranked.push_back(s->items[k]);
      std::map<std::string, double> model_user, reranked_user;
      AddUserMetrics(s->items, data.test.begin(s->user), data.test.end(s->user), ks, &model_user);
      AddUserMetrics(reranked, data.test.begin(s->user), data.test.end(s->user), ks, &reranked_user);
      for (const auto& [name, v] : model_user) model_sums[name] += v;
      for (const auto& [name, v] : reranked_user) reranked_sums[name] += v;
      gains.push_back(reranked_user["ndcg@10"] - model_user["ndcg@10"]);
    }
  }
  const double n = static_cast<double>(samples.size());
  out.ndcg_at_10 = model_sums["ndcg@10"] / n;
  out.reranked_ndcg_at_10 = reranked_sums["ndcg@10"] / n;
  out.hit_rate_at_20 = model_sums["hit_rate@20"] / n;
  out.reranked_hit_rate_at_20 = reranked_sums["hit_rate@20"] / n;
  out.precision_at_10 = model_sums["precision@10"] / n;
  out.reranked_precision_at_10 = reranked_sums["precision@10"] / n;
  // Kept when the gain is real: above kMinGain and kStandardErrors paired
  // standard errors of the per-user differences.
  double mean_gain = 0, var = 0;
  for (double g : gains) mean_gain += g / n;
  for (double g : gains) var += (g - mean_gain) * (g - mean_gain) / std::max(1.0, n - 1);
  const double standard_error = std::sqrt(var / n);
  if (!(out.reranked_ndcg_at_10 > kMinGain * out.ndcg_at_10 && mean_gain > kStandardErrors * standard_error)) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "does not rank the held-out items better than the model (cross-fitted ndcg@10 %+.4f, "
                  "standard error %.4f)",
                  mean_gain, standard_error);
    out.reason = buf;
    return out;
  }
  std::vector<const Sample*> all;
  for (const auto& s : samples) all.push_back(&s);
  out.reranker = Fit(all, data);
  return out;
}

}  // namespace embedrec::ml
