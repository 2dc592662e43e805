#include "ml/recency.h"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

namespace embedrec::ml {

double Steering::EventWeight(double type_weight, int64_t age_ms, int newer) {
  const double age_days = static_cast<double>(std::max<int64_t>(age_ms, 0)) / 86400000.0;
  return type_weight * std::exp2(-age_days / kHalfLifeDays) * std::pow(kOrderDecay, newer);
}

void Steering::Blend(float* q, const float* folded, double weight, int d) {
  for (int j = 0; j < d; ++j) {
    q[j] = static_cast<float>((kModelWeight * q[j] + weight * folded[j]) / (kModelWeight + weight));
  }
}

std::vector<float> SteeredUserVectors(const Dataset& data, const Model& model, double share) {
  const int d = model.dim();
  std::vector<float> out = model.user_embeddings();
  if (share <= 0) return out;
  // Each user's events, newest first.
  std::vector<std::vector<const Interaction*>> by_user(data.n_users);
  for (const auto& e : data.train_events) {
    if (e.user >= 0 && e.user < data.n_users && e.weight > 0) by_user[e.user].push_back(&e);
  }
  const auto n_users = static_cast<int64_t>(std::min<size_t>(data.n_users, out.size() / std::max(d, 1)));
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t u = 0; u < n_users; ++u) {
    auto& events = by_user[u];
    if (events.empty()) continue;
    const size_t n = std::min(events.size(), Steering::kSeenEvents);
    std::partial_sort(events.begin(), events.begin() + n, events.end(),
                      [](const Interaction* a, const Interaction* b) { return a->ts > b->ts; });
    Model::ItemWeights recent;
    double total = 0;
    for (size_t k = 0; k < n; ++k) {
      const double w = share * Steering::EventWeight(events[k]->weight, (events[0]->ts - events[k]->ts) * 1000,
                                                      static_cast<int>(k));
      recent.emplace_back(events[k]->item, static_cast<float>(w));
      total += w;
    }
    auto folded = model.FoldIn(recent);
    if (folded.ok() && static_cast<int>(folded->size()) == d) Steering::Blend(out.data() + u * d, folded->data(), total, d);
  }
  return out;
}

double RecentEventsShare(std::string_view metadata_json) {
  boost::system::error_code ec;
  boost::json::value meta = boost::json::parse(metadata_json, ec);
  const boost::json::value* s = !ec && meta.is_object() ? meta.as_object().if_contains("recent_events_share") : nullptr;
  if (!s || !s->is_number()) return 0;
  const double v = s->to_number<double>();
  return std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 0;
}

}  // namespace embedrec::ml
