// Implicit ALS (Hu, Koren, Volinsky 2008) behind the Model interface.
//
// Preference p_ui = 1 for every observed pair, 0 otherwise; confidence
// c_ui = 1 + alpha * r_ui with r_ui the summed weights of the pair's events.
// Each half-step solves, for every user u (then every item, symmetrically),
//   (YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p(u)
// exactly with a Cholesky factorisation (Eigen, d × d), where YᵀY is shared
// and only the user's own items add terms. Users are solved in parallel
// (OpenMP); each solve is independent, so results do not depend on threads.
#include <omp.h>

#include <Eigen/Dense>
#include <boost/json.hpp>
#include <cstdio>
#include <optional>
#include <algorithm>
#include <chrono>
#include <random>

#include "ml/model.h"

namespace embedrec::ml {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows with their (column, confidence − 1) entries: CSR.
struct Confidences {
  std::vector<int64_t> offsets;
  std::vector<int32_t> cols;
  std::vector<float> extra;  // c − 1 = alpha * r
};

Confidences Build(int32_t rows, const std::vector<Interaction>& events, bool by_user, float alpha) {
  std::vector<std::tuple<int32_t, int32_t, float>> t;
  t.reserve(events.size());
  for (const auto& e : events) {
    t.emplace_back(by_user ? e.user : e.item, by_user ? e.item : e.user, e.weight);
  }
  std::sort(t.begin(), t.end());
  Confidences c;
  c.offsets.assign(static_cast<size_t>(rows) + 1, 0);
  for (size_t i = 0; i < t.size(); ++i) {
    auto [r, col, w] = t[i];
    if (i > 0 && std::get<0>(t[i - 1]) == r && std::get<1>(t[i - 1]) == col) {
      c.extra.back() += alpha * w;  // repeated events of a pair add confidence
      continue;
    }
    c.cols.push_back(col);
    c.extra.push_back(alpha * w);
    ++c.offsets[r + 1];
  }
  for (int32_t r = 0; r < rows; ++r) c.offsets[r + 1] += c.offsets[r];
  return c;
}

// X = argmin for every row given the fixed factors Y.
void SolveAll(const Confidences& c, const RowMatrix& y, float lambda, RowMatrix* x) {
  const int d = static_cast<int>(y.cols());
  const Eigen::MatrixXf yty = (y.transpose() * y).eval();
  const int64_t rows = static_cast<int64_t>(c.offsets.size()) - 1;
#pragma omp parallel if (rows * d * d >= (1 << 20))
  {
    Eigen::MatrixXf a(d, d);
    Eigen::VectorXf b(d);
#pragma omp for schedule(dynamic, 32)
    for (int64_t r = 0; r < rows; ++r) {
      a = yty;
      a.diagonal().array() += lambda;
      b.setZero();
      for (int64_t e = c.offsets[r]; e < c.offsets[r + 1]; ++e) {
        const auto yi = y.row(c.cols[e]).transpose();
        const float extra = c.extra[e];
        a.selfadjointView<Eigen::Lower>().rankUpdate(yi, extra);
        b += (1.0f + extra) * yi;
      }
      x->row(r) = a.selfadjointView<Eigen::Lower>().llt().solve(b).transpose();
    }
  }
}

class Als final : public Model {
 public:
  std::string name() const override { return "als"; }
  int dim() const override { return d_; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return best_epoch_; }
  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    RETURN_IF_ERROR(CheckFoldIn(items, n_items_));
    Eigen::Map<const RowMatrix> y(items_.data(), n_items_, d_);
    Eigen::MatrixXf a = yty_;
    a.diagonal().array() += lambda_;
    Eigen::VectorXf b = Eigen::VectorXf::Zero(d_);
    for (const auto& [item, w] : items) {
      const Eigen::VectorXf yi = y.row(item).transpose();
      const float extra = alpha_ * w;
      a.selfadjointView<Eigen::Lower>().rankUpdate(yi, extra);
      b += (1.0f + extra) * yi;
    }
    Eigen::VectorXf x = a.selfadjointView<Eigen::Lower>().llt().solve(b);
    return std::vector<float>(x.data(), x.data() + d_);
  }
  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    char params[128];
    std::snprintf(params, sizeof(params), "{\"alpha\":%.9g,\"lambda\":%.9g}", alpha_, lambda_);
    return ExportEmbeddings("als", d_, users_, items_, params);
  }
  Status Restore(const ModelArtifact& a) override {
    RETURN_IF_ERROR(CheckArtifact(a, "als"));
    boost::system::error_code ec;
    boost::json::value p = boost::json::parse(a.params_json, ec);
    const boost::json::object* o = ec ? nullptr : p.if_object();
    auto number = [&](const char* key) -> std::optional<double> {
      const boost::json::value* v = o ? o->if_contains(key) : nullptr;
      if (!v || !v->is_number()) return std::nullopt;
      return v->to_number<double>();
    };
    auto alpha = number("alpha"), lambda = number("lambda");
    if (!alpha || !lambda) return Status::InvalidArgument("an als model needs alpha and lambda");
    d_ = static_cast<int>(a.dim);
    users_ = a.user_emb;
    items_ = a.item_emb;
    n_items_ = static_cast<int64_t>(a.n_items);
    alpha_ = static_cast<float>(*alpha);
    lambda_ = static_cast<float>(*lambda);
    Eigen::Map<const RowMatrix> y(items_.data(), n_items_, d_);
    yty_ = (y.transpose() * y).eval();
    best_epoch_ = 0;
    return Status::Ok();
  }

  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    RETURN_IF_ERROR(opt.Validate());
    if (!(opt.alpha > 0)) return Status::InvalidArgument("alpha must be > 0");
    if (data.train_events.empty()) return Status::FailedPrecondition("no training interactions");
    if (opt.threads > 0) omp_set_num_threads(opt.threads);
    d_ = opt.embedding_dim;
    const float alpha = static_cast<float>(opt.alpha), lambda = static_cast<float>(opt.reg);
    Confidences by_user = Build(data.n_users, data.train_events, true, alpha);
    Confidences by_item = Build(data.n_items, data.train_events, false, alpha);
    RowMatrix x(data.n_users, d_), y(data.n_items, d_);
    std::mt19937_64 rng(opt.seed);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    for (int64_t i = 0; i < y.size(); ++i) y.data()[i] = normal(rng);
    x.setZero();
    if (opt.warm_start) {
      RETURN_IF_ERROR(ApplyWarmStart(*opt.warm_start, d_, x.data(), data.n_users, y.data(),
                                     data.n_items));
    }
    for (int it = 1; it <= opt.epochs; ++it) {
      StepAsideForRequests(opt);
      if (Cancelled(opt)) return CancelledStatus();
      auto t0 = std::chrono::steady_clock::now();
      const double aside0 = SecondsAside(opt);
      SolveAll(by_user, y, lambda, &x);
      StepAsideForRequests(opt);
      SolveAll(by_item, x, lambda, &y);
      EpochReport r;
      r.epoch = it;
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      r.paused_seconds = SecondsAside(opt) - aside0;
      best_epoch_ = it;
      bool eval = opt.eval_every > 0 && data.test.size() > 0 &&
                  (it % opt.eval_every == 0 || it == opt.epochs);
      if (eval) {
        r.eval_seconds = ValidationSeconds(
            opt, [&] { r.metrics = Evaluate(data, x.data(), y.data(), d_, opt.ks, nullptr, opt.step_aside); });
      }
      if (progress) progress(r);
    }
    users_.assign(x.data(), x.data() + x.size());
    items_.assign(y.data(), y.data() + y.size());
    yty_ = (y.transpose() * y).eval();
    n_items_ = data.n_items;
    alpha_ = alpha;
    lambda_ = lambda;
    return Status::Ok();
  }

 private:
  int d_ = 0;
  int best_epoch_ = 0;
  std::vector<float> users_, items_;
  Eigen::MatrixXf yty_;  // for fold-in
  int64_t n_items_ = 0;
  float alpha_ = 0, lambda_ = 0;
};

}  // namespace

std::unique_ptr<Model> NewAls() { return std::make_unique<Als>(); }

}  // namespace embedrec::ml
