#include "ml/calibration.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

namespace embedrec::ml {

namespace {

// Whether serving would never show user u item i: in `never_shown`, or
// without it any training pair.
bool Excluded(const Dataset& data, const UserItems* never_shown, int32_t u, int32_t i) {
  const UserItems& mask = never_shown ? *never_shown : data.train;
  return u < mask.num_users() && mask.Contains(u, i);
}

double Dot(const float* x, const float* y, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += static_cast<double>(x[j]) * y[j];
  return s;
}

struct Sample {
  double ip, weight;
  bool positive;
};

// Weighted log-loss of sigmoid(a·ip + b), with a little ridge on a.
double Loss(const std::vector<Sample>& s, double a, double b, double ridge) {
  double loss = 0.5 * ridge * a * a;
  for (const auto& x : s) {
    const double z = a * x.ip + b;
    // log(1 + e^z) - y·z, computed stably
    const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
    loss += x.weight * (softplus - (x.positive ? z : 0));
  }
  return loss;
}

}  // namespace

double ScoreCalibration::Probability(double ip, double user_norm) const {
  const double x = per_user_norm ? (user_norm > 0 ? ip / user_norm : 0.0) : ip;
  return 1.0 / (1.0 + std::exp(-(a * x + b)));
}

namespace {
double Norm(const float* x, int d) { return std::sqrt(Dot(x, x, d)); }
}  // namespace

boost::json::object ScoreCalibration::ToJson() const {
  boost::json::object o{{"method", "platt"}, {"a", a}, {"b", b}, {"users", users}, {"positives", positives}};
  if (per_user_norm) o["per_user_norm"] = true;
  if (floored_slope) o["floored_slope"] = true;
  if (mean_score_at_10 >= 0) {
    o["mean_score@10"] = mean_score_at_10;
    o["precision@10"] = precision_at_10;
    if (one_choice_per_user) o["held_out"] = "one next choice per user";
    if (reranker_gain != 1) o["reranker_gain"] = reranker_gain;
  }
  return o;
}

ScoreCalibration ScoreCalibration::FromMetadata(std::string_view metadata_json) {
  namespace json = boost::json;
  ScoreCalibration out;
  boost::system::error_code ec;
  json::value meta = json::parse(metadata_json, ec);
  const json::value* c = !ec && meta.is_object() ? meta.as_object().if_contains("score_calibration") : nullptr;
  if (!c || !c->is_object()) return out;
  const json::value* a = c->as_object().if_contains("a");
  const json::value* b = c->as_object().if_contains("b");
  if (a && b && a->is_number() && b->is_number() && std::isfinite(a->to_number<double>()) &&
      std::isfinite(b->to_number<double>())) {
    out.a = a->to_number<double>();
    out.b = b->to_number<double>();
    const json::value* n = c->as_object().if_contains("per_user_norm");
    out.per_user_norm = n && n->is_bool() && n->as_bool();
  }
  return out;
}

namespace {

// a·ip (/‖q‖ when per-user) of each of up to `max_users` users' 10 best
// items as serving shows them (see Excluded).
std::vector<double> TopTen(const Dataset& data, const float* users, const float* items, int dim,
                           const ScoreCalibration& c, int max_users, const UserItems* never_shown) {
  std::vector<double> top;
  std::vector<double> scored;
  const int32_t n_users = std::min(data.n_users, max_users);
  const int32_t stride = std::max(1, data.n_users / std::max(1, n_users));
  for (int32_t u = 0; u < data.n_users; u += stride) {
    if (data.train.degree(u) == 0) continue;
    scored.clear();
    const float* q = users + static_cast<int64_t>(u) * dim;
    const double qn = c.per_user_norm ? Norm(q, dim) : 1.0;
    if (!(qn > 0)) continue;
    for (int32_t i = 0; i < data.n_items; ++i) {
      if (!Excluded(data, never_shown, u, i)) {
        scored.push_back(Dot(q, items + static_cast<int64_t>(i) * dim, dim) / qn);
      }
    }
    const size_t k = std::min<size_t>(10, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end(), std::greater<>());
    for (size_t r = 0; r < k; ++r) top.push_back(c.a * scored[r]);
  }
  return top;
}

double MeanSigmoid(const std::vector<double>& top, double b) {
  double s = 0;
  for (double x : top) s += 1.0 / (1.0 + std::exp(-(x + b)));
  return s / top.size();
}

// The b at which MeanSigmoid(a_ips, b) is `target` (it is increasing in b).
double InterceptGivingMean(const std::vector<double>& a_ips, double target) {
  double lo = -60, hi = 60;
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    (MeanSigmoid(a_ips, mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

Status MatchMeanScoreAtTen(const Dataset& data, const float* users, const float* items, int dim,
                           double target, ScoreCalibration* c, int max_users, const UserItems* never_shown) {
  if (!(target > 0 && target < 1)) return Status::InvalidArgument("the target must be in (0, 1)");
  const auto top = TopTen(data, users, items, dim, *c, max_users, never_shown);
  if (top.empty()) return Status::FailedPrecondition("no user to match scores on");
  c->b = InterceptGivingMean(top, target);
  c->mean_score_at_10 = MeanSigmoid(top, c->b);
  return Status::Ok();
}

StatusOr<ScoreCalibration> FitScoreCalibration(const Dataset& data, const float* users,
                                               const float* items, int dim, const CalibrationOptions& opt) {
  std::vector<int32_t> candidates;
  for (int32_t u = 0; u < data.test.num_users(); ++u) {
    if (data.test.degree(u) > 0) candidates.push_back(u);
  }
  if (candidates.empty()) return Status::FailedPrecondition("no held-out pairs to calibrate scores on");
  std::mt19937_64 rng(opt.seed ^ 0x5ca1ab1eULL);
  if (static_cast<int>(candidates.size()) > opt.max_users) {
    std::shuffle(candidates.begin(), candidates.end(), rng);
    candidates.resize(opt.max_users);
  }
  std::uniform_int_distribution<int32_t> any_item(0, data.n_items - 1);
  std::vector<Sample> samples;
  ScoreCalibration out;
  const bool rerank = opt.top_k > 0 && opt.reranker && opt.item_category;
  std::optional<RerankerSignals> signals;
  if (rerank) signals.emplace(data, *opt.item_category, candidates, opt.reranker->recent_events);
  double model_hits = 0, reranked_hits = 0;  // at 10, over the same lists
  std::vector<std::pair<double, int32_t>> scored;
  std::vector<std::pair<double, double>> best10;  // top-k fit: each user's 10 best (ip, chance it is the choice)
  out.per_user_norm = true;
  out.one_choice_per_user = opt.top_k > 0 && opt.one_choice_per_user;
  size_t scanned = 0;
  for (int32_t u : candidates) {
    if (opt.step_aside && ++scanned % 128 == 0) opt.step_aside->Between();
    const float* q = users + static_cast<int64_t>(u) * dim;
    const double qn = Norm(q, dim);
    if (!(qn > 0)) continue;
    if (opt.top_k > 0) {  // what the user is shown: the top_k unseen items
      // One next choice per user, among the items of their next visit
      // (data.next_choices, each with its chance of coming first; every
      // held-out item as likely when the split has no times), counted as the
      // expected hit. Their later held-out items are not chosen yet: they
      // stay in the ranking, misses for this choice. (Measured on MovieLens,
      // whose users hold out ~30 ratings each, mostly rated within minutes,
      // against the withheld-last-rating protocol's precision@10: the
      // earliest held-out item alone gave mean score@10 / precision 1.19-1.61
      // for EASE and auto over four runs, the visit's items as likely
      // 0.65-0.95 (one run, four models), half to the earliest as here
      // 0.79-1.12 (two runs, four models); on the shops, whose users hold out
      // 1-2 purchases, all alike.)
      const bool by_visit = out.one_choice_per_user && u < data.next_choices.num_users() &&
                            data.next_choices.degree(u) > 0;
      scored.clear();
      for (int32_t i = 0; i < data.n_items; ++i) {
        if (Excluded(data, opt.never_shown, u, i)) continue;
        scored.emplace_back(Dot(q, items + static_cast<int64_t>(i) * dim, dim) / qn, i);
      }
      const size_t k = std::min<size_t>(opt.top_k, scored.size());
      const size_t ranked = rerank ? std::max(k, std::min(Reranker::kCandidates, scored.size())) : k;
      std::partial_sort(scored.begin(), scored.begin() + ranked, scored.end(),
                        [](const auto& x, const auto& y) { return x.first > y.first; });
      // 1 for a held-out item (the split's precision); with one choice per
      // user, the chance that it is that choice.
      auto is_choice = [&](int32_t i) -> double {
        if (by_visit) return data.next_choices.WeightOf(u, i);
        if (!data.test.Contains(u, i)) return 0.0;
        return out.one_choice_per_user ? 1.0 / static_cast<double>(data.test.degree(u)) : 1.0;
      };
      scored.resize(ranked);
      if (rerank) {  // the lists as serving shows them: the candidates reordered
        const auto order = opt.reranker->Order(signals->Candidates(u, scored));
        for (size_t r = 0; r < std::min<size_t>(10, order.size()); ++r) {
          reranked_hits += is_choice(scored[order[r]].second);
          model_hits += is_choice(scored[r].second);
        }
      }
      for (size_t r = 0; r < k; ++r) {
        const double held = is_choice(scored[r].second);  // the chance it is the choice
        if (held > 0) samples.push_back({scored[r].first, held, true});
        if (held < 1) samples.push_back({scored[r].first, 1.0 - held, false});
        if (r < 10) best10.emplace_back(scored[r].first, held);
        out.positives += held > 0;
      }
      ++out.users;
      continue;
    }
    for (const int32_t* i = data.test.begin(u); i != data.test.end(u); ++i) {
      samples.push_back({Dot(q, items + static_cast<int64_t>(*i) * dim, dim) / qn, 1.0, true});
      ++out.positives;
    }
    const int64_t seen = data.test.degree(u) + (u < data.train.num_users() ? data.train.degree(u) : 0);
    const int64_t unseen = data.n_items - seen;
    if (unseen <= 0) continue;
    std::vector<int32_t> drawn;
    for (int attempt = 0;
         static_cast<int>(drawn.size()) < opt.negatives_per_user && attempt < 8 * opt.negatives_per_user;
         ++attempt) {
      const int32_t i = any_item(rng);
      if (data.test.Contains(u, i) || (u < data.train.num_users() && data.train.Contains(u, i))) continue;
      drawn.push_back(i);
    }
    for (int32_t i : drawn) {
      samples.push_back({Dot(q, items + static_cast<int64_t>(i) * dim, dim) / qn,
                         static_cast<double>(unseen) / drawn.size(), false});
    }
    ++out.users;
  }
  if (out.positives == 0) return Status::FailedPrecondition("no held-out item among the users' best");
  // Newton's method from the base rate, halving steps that do not lower the loss.
  double pos = 0, all = 0;
  for (const auto& s : samples) all += s.weight, pos += s.positive ? s.weight : 0;
  const double ridge = 1e-6 * all;
  double a = 0, b = std::log(pos / std::max(all - pos, 1e-12));
  double loss = Loss(samples, a, b, ridge);
  for (int iter = 0; iter < 100; ++iter) {
    double ga = ridge * a, gb = 0, haa = ridge, hab = 0, hbb = 0;
    for (const auto& s : samples) {
      const double p = 1.0 / (1.0 + std::exp(-(a * s.ip + b)));
      const double r = s.weight * (p - (s.positive ? 1 : 0)), h = s.weight * p * (1 - p);
      ga += r * s.ip, gb += r;
      haa += h * s.ip * s.ip, hab += h * s.ip, hbb += h;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    double step = 1;
    double next = Loss(samples, a - da, b - db, ridge);
    while (next > loss && step > 1e-6) {
      step /= 2;
      next = Loss(samples, a - step * da, b - step * db, ridge);
    }
    if (next > loss) break;
    a -= step * da, b -= step * db;
    const bool converged = loss - next < 1e-10 * std::max(1.0, loss);
    loss = next;
    if (converged) break;
  }
  if (!std::isfinite(a) || !std::isfinite(b)) {
    return Status::FailedPrecondition("the score calibration did not converge");
  }
  if (!(a > 0)) {
    // Among what users are shown, a higher inner product does not mean a
    // likelier choice (on MovieLens: the 20 best are all good guesses).
    // Nearly flat then: a slope that keeps each user's ranking but moves the
    // log-odds by only 0.04 per standard deviation of the samples, and the
    // intercept that gives their base rate.
    double m = 0, v = 0;
    for (const auto& x : samples) m += x.ip;
    m /= samples.size();
    for (const auto& x : samples) v += (x.ip - m) * (x.ip - m);
    const double sd = std::sqrt(v / samples.size());
    if (opt.top_k <= 0 || !(sd > 0)) {
      return Status::FailedPrecondition("the model's inner products do not rank held-out items above others");
    }
    a = 0.04 / sd;
    const double rate = pos / all;
    b = std::log(rate / (1 - rate)) - a * m;
    out.floored_slope = true;
  }
  out.a = a;
  out.b = b;
  if (opt.top_k >= 10 && !best10.empty()) {
    std::vector<double> a_ips;  // ip already / ‖q‖
    double hits = 0;
    for (const auto& [ip, hit] : best10) a_ips.push_back(out.a * ip), hits += hit;
    out.precision_at_10 = hits / best10.size();
    // A flat link's base rate is the top_k's: its intercept is moved to the
    // precision of the 10 best (what the mean score@10 is read against).
    if (out.floored_slope && out.precision_at_10 > 0) out.b = InterceptGivingMean(a_ips, out.precision_at_10);
    if (rerank) {
      // Displayed probabilities stay in rank order: the k-th shown gets the
      // model's k-th best. For probabilities well below 1, multiplying them
      // all by the gain is adding its log to the intercept. (+1 each: a
      // few hits do not make a wild ratio.)
      out.reranker_gain = (reranked_hits + 1) / (model_hits + 1);
      out.b += std::log(out.reranker_gain);
      out.precision_at_10 *= out.reranker_gain;
    }
    out.mean_score_at_10 = MeanSigmoid(a_ips, out.b);
  }
  return out;
}

}  // namespace embedrec::ml
