// Item-to-item models behind the embedding interface (see ml/model.h):
//
//   ease      EASE^R (Steck 2019): B = argmin ‖X − XB‖² + λ‖B‖², diag(B) = 0,
//             in closed form: P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag(P)).
//   item_knn  time-decayed co-occurrence (a pair's weight halves every
//             half_life_days before the newest event; when not given, from
//             the data: see DataHalfLifeDays), normalised by the
//             source item's norm only (an asymmetric cosine: M_ij = G_ij / √G_ii;
//             the symmetric cosine favours rare items and measured far below
//             popularity on generated shops), each item keeping its
//             `neighbors` strongest (0: all).
//
// Both learn an item × item matrix M and score a user by x_u·M, where x_u
// holds log(1 + w) of the user's pair weights (item_knn: decayed by age from
// the user's own newest event), scaled to unit length (the
// ranking is x_u·M's; the scale keeps scores of long and short histories
// comparable for calibration). M is factored as M ≈ L·Vᵀ
// (randomized SVD, rank embedding_dim), so that the score is the dot product
// of a user embedding x_u·L and an item embedding V: the item index, the
// evaluator, calibration and serving work unchanged. Fold-in is exact for
// the factored model (Σ log(1 + w_i)·L_i); L is kept in the model file as
// the item "ego" rows. The dense n × n matrix bounds the catalog at
// kMaxItemItemItems trained items (3.6 GB at 30,000).
#include <cblas.h>
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "ml/model.h"

extern "C" {
// LAPACK (OpenBLAS): Cholesky factorisation and the inverse from it.
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
}

namespace embedrec::ml {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The user × item input x_ui = log(1 + w), w the pair's strongest event
// weight (× its time decay when half_life_s > 0: by age from the newest
// event of all, or with `per_user` of the user's own), as CSR aligned with
// data.train.
std::vector<float> InputWeights(const Dataset& data, double half_life_s, bool per_user = false) {
  const UserItems& t = data.train;
  std::vector<float> w(t.items.size(), 0.0f);
  int64_t newest_all = 0;
  std::vector<int64_t> newest_of(per_user ? data.n_users : 0, 0);
  for (const auto& e : data.train_events) {
    newest_all = std::max(newest_all, e.ts);
    if (per_user) newest_of[e.user] = std::max(newest_of[e.user], e.ts);
  }
  for (const auto& e : data.train_events) {
    const int64_t newest = per_user ? newest_of[e.user] : newest_all;
    const int32_t* b = t.begin(e.user);
    const int32_t* end = t.end(e.user);
    const int32_t* p = std::lower_bound(b, end, e.item);
    if (p == end || *p != e.item) continue;
    double x = e.weight;
    if (half_life_s > 0 && e.ts > 0) x *= std::exp2(-static_cast<double>(newest - e.ts) / half_life_s);
    float& slot = w[p - t.items.data()];
    slot = std::max(slot, static_cast<float>(x));
  }
  for (auto& x : w) x = std::log1p(x);
  return w;
}

}  // namespace

double DataHalfLifeDays(const Dataset& data) {
  std::vector<int64_t> newest_of(data.n_users, 0);
  int64_t newest_all = 0;
  for (const auto& e : data.train_events) {
    if (e.ts <= 0) continue;
    newest_all = std::max(newest_all, e.ts);
    newest_of[e.user] = std::max(newest_of[e.user], e.ts);
  }
  std::vector<double> lag_days;
  for (int64_t t : newest_of) {
    if (t > 0) lag_days.push_back(static_cast<double>(newest_all - t) / 86400.0);
  }
  if (lag_days.empty()) return kMinDataHalfLifeDays;
  auto mid = lag_days.begin() + lag_days.size() / 2;
  std::nth_element(lag_days.begin(), mid, lag_days.end());
  return std::max(kMinDataHalfLifeDays, *mid);
}

namespace {

// G = XᵀX (n × n, row-major, both triangles).
void Gram(const UserItems& t, const std::vector<float>& x, int32_t n, std::vector<float>* g) {
  g->assign(static_cast<size_t>(n) * n, 0.0f);
  float* G = g->data();
  // Rows of G are split among threads by item: each thread adds only to rows it owns.
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), me = omp_get_thread_num();
    for (int32_t u = 0; u < t.num_users(); ++u) {
      const int64_t b = t.offsets[u], e = t.offsets[u + 1];
      for (int64_t p = b; p < e; ++p) {
        const int32_t i = t.items[p];
        if (i % nt != me) continue;
        float* row = G + static_cast<size_t>(i) * n;
        const float xi = x[p];
        for (int64_t q = b; q < e; ++q) row[t.items[q]] += xi * x[q];
      }
    }
  }
}

// M ≈ L·Vᵀ, rank r (randomized SVD with 2 power iterations, Halko et al. 2011).
void Factor(const std::vector<float>& m, int32_t n, int r, uint64_t seed, std::vector<float>* l,
            std::vector<float>* v) {
  const int k = std::min<int>(n, r + 16);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  RowMatrix y(n, k), z(n, k);
  RowMatrix omega(n, k);
  for (int64_t i = 0; i < omega.size(); ++i) omega.data()[i] = normal(rng);
  auto times = [&](bool transpose, const RowMatrix& in, RowMatrix* out) {  // out = M·in or Mᵀ·in
    cblas_sgemm(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, CblasNoTrans, n, k, n, 1.0f,
                m.data(), n, in.data(), k, 0.0f, out->data(), k);
  };
  auto orth = [&](RowMatrix* a) {
    Eigen::HouseholderQR<RowMatrix> qr(*a);
    *a = qr.householderQ() * RowMatrix::Identity(a->rows(), a->cols());
  };
  times(false, omega, &y);
  for (int it = 0; it < 2; ++it) {
    orth(&y);
    times(true, y, &z);
    orth(&z);
    times(false, z, &y);
  }
  orth(&y);  // Q: n × k, M ≈ Q·Qᵀ·M
  RowMatrix qtm(k, n);  // Qᵀ·M
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, n, 1.0f, y.data(), k, m.data(), n, 0.0f,
              qtm.data(), n);
  // Qᵀ·M = Û Σ Wᵀ from the eigenvectors of (Qᵀ·M)(Qᵀ·M)ᵀ (k × k).
  Eigen::MatrixXd s = (qtm.cast<double>() * qtm.cast<double>().transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(s);
  const int rank = std::min(r, k);
  l->assign(static_cast<size_t>(n) * r, 0.0f);
  v->assign(static_cast<size_t>(n) * r, 0.0f);
  // Singular values below float precision relative to the largest are
  // noise: dividing by them overflows (MovieLens's decayed inputs did).
  const double sigma_max = std::sqrt(std::max(0.0, eig.eigenvalues()[k - 1]));
  for (int c = 0; c < rank; ++c) {
    const int e = k - 1 - c;  // largest first
    const double sigma = std::sqrt(std::max(0.0, eig.eigenvalues()[e]));
    if (!(sigma > 1e-5 * sigma_max) || sigma <= 1e-12) break;
    const Eigen::VectorXf uhat = eig.eigenvectors().col(e).cast<float>();
    const Eigen::VectorXf left = y * uhat;                                   // Q·û (n)
    const Eigen::VectorXf right = (qtm.transpose() * uhat) / static_cast<float>(sigma);  // w (n)
    for (int32_t i = 0; i < n; ++i) {
      (*l)[static_cast<size_t>(i) * r + c] = left[i] * static_cast<float>(sigma);
      (*v)[static_cast<size_t>(i) * r + c] = right[i];
    }
  }
}

class ItemItem final : public Model {
 public:
  explicit ItemItem(std::string type) : type_(std::move(type)) {}
  std::string name() const override { return type_; }
  int dim() const override { return d_; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return items_.empty() ? 0 : 1; }

  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    RETURN_IF_ERROR(CheckFoldIn(items, n_items_));
    std::vector<std::pair<int32_t, double>> x;
    for (const auto& [i, w] : items) x.emplace_back(i, std::log1p(static_cast<double>(w)));
    std::vector<float> q(d_, 0.0f);
    UnitSum(x, q.data());
    return q;
  }

  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    char params[160];
    std::snprintf(params, sizeof params, "{\"lambda\":%.9g,\"neighbors\":%d,\"half_life_days\":%.9g}", lambda_,
                  neighbors_, half_life_days_);
    ModelArtifact a = ExportEmbeddings(type_, d_, users_, items_, params);
    a.user_ego = users_;  // the file keeps ego rows in pairs; the item side is L
    a.item_ego = left_;
    return a;
  }

  Status Restore(const ModelArtifact& a) override {
    RETURN_IF_ERROR(CheckArtifact(a, type_));
    if (a.item_ego.size() != a.item_emb.size()) {
      return Status::InvalidArgument("an " + type_ + " model needs its input factor (ego rows)");
    }
    d_ = static_cast<int>(a.dim);
    users_ = a.user_emb;
    items_ = a.item_emb;
    left_ = a.item_ego;
    n_items_ = static_cast<int64_t>(a.n_items);
    return Status::Ok();
  }

  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    RETURN_IF_ERROR(opt.Validate());
    if (data.train.size() == 0) return Status::FailedPrecondition("no training interactions");
    if (data.n_items > kMaxItemItemItems) {
      return Status::InvalidArgument(type_ + " supports catalogs of up to " +
                                     std::to_string(kMaxItemItemItems) + " trained items, not " +
                                     std::to_string(data.n_items) + "; use als or lightgcn");
    }
    if (opt.threads > 0) omp_set_num_threads(opt.threads);
    const auto t0 = std::chrono::steady_clock::now();
    const int32_t n = data.n_items;
    const bool knn = type_ == "item_knn";
    half_life_days_ = knn ? (opt.half_life_days > 0 ? opt.half_life_days : DataHalfLifeDays(data)) : 0.0;
    const double half_life_s = half_life_days_ * 86400.0;
    const std::vector<float> x = InputWeights(data, half_life_s);
    std::vector<float> m;
    Gram(data.train, x, n, &m);
    if (Cancelled(opt)) return CancelledStatus();
    if (knn) {
      RETURN_IF_ERROR(Knn(&m, n, opt.neighbors));
    } else {
      RETURN_IF_ERROR(Ease(&m, n, static_cast<float>(opt.lambda)));
    }
    if (Cancelled(opt)) return CancelledStatus();
    d_ = std::min<int>(opt.embedding_dim, n);
    Factor(m, n, d_, opt.seed, &left_, &items_);
    std::vector<float>().swap(m);
    auto finite = [](const std::vector<float>& v) {
      return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
    };
    if (!finite(left_) || !finite(items_)) {
      return Status::Internal(type_ + ": the factorisation of the item x item weights was not finite");
    }
    // Users: their items decayed by age from their own newest event (a user
    // last seen long ago keeps a direction; the co-occurrences above decay
    // from the newest event of all).
    const std::vector<float> xu_all = half_life_s > 0 ? InputWeights(data, half_life_s, true) : x;
    users_.assign(static_cast<size_t>(data.n_users) * d_, 0.0f);
#pragma omp parallel for schedule(dynamic, 64)
    for (int32_t u = 0; u < data.n_users; ++u) {
      std::vector<std::pair<int32_t, double>> xu;
      for (int64_t p = data.train.offsets[u]; p < data.train.offsets[u + 1]; ++p) {
        xu.emplace_back(data.train.items[p], xu_all[p]);
      }
      UnitSum(xu, users_.data() + static_cast<size_t>(u) * d_);
    }
    n_items_ = n;
    lambda_ = opt.lambda;
    neighbors_ = opt.neighbors;
    EpochReport r;
    r.epoch = 1;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opt.eval_every > 0 && data.test.size() > 0) {
      r.eval_seconds = ValidationSeconds(
          opt, [&] { r.metrics = Evaluate(data, users_.data(), items_.data(), d_, opt.ks, nullptr, opt.step_aside); });
    }
    if (progress) progress(r);
    return Status::Ok();
  }

 private:
  // m = G on entry; B = I − P·diag(1/diag(P)) with P = (G + λI)⁻¹ on return.
  static Status Ease(std::vector<float>* m, int32_t n, float lambda) {
    float* g = m->data();
    for (int32_t i = 0; i < n; ++i) g[static_cast<size_t>(i) * n + i] += lambda;
    int info = 0;
    const char uplo = 'L';  // column-major lower = row-major upper; G is symmetric
    spotrf_(&uplo, &n, g, &n, &info);
    if (info == 0) spotri_(&uplo, &n, g, &n, &info);
    if (info != 0) return Status::Internal("the EASE solve failed (LAPACK info " + std::to_string(info) + ")");
    // The inverse is in one triangle (row-major: the upper one); mirror it.
    for (int32_t i = 0; i < n; ++i) {
      for (int32_t j = i + 1; j < n; ++j) g[static_cast<size_t>(j) * n + i] = g[static_cast<size_t>(i) * n + j];
    }
    std::vector<float> diag(n);
    for (int32_t j = 0; j < n; ++j) diag[j] = g[static_cast<size_t>(j) * n + j];
#pragma omp parallel for schedule(static)
    for (int32_t i = 0; i < n; ++i) {
      float* row = g + static_cast<size_t>(i) * n;
      for (int32_t j = 0; j < n; ++j) row[j] = i == j ? 0.0f : -row[j] / diag[j];
    }
    return Status::Ok();
  }

  // m = G on entry; M_ij = G_ij / √G_ii (0 on the diagonal), each row i
  // keeping its `k` largest entries when 0 < k < n, on return.
  static Status Knn(std::vector<float>* m, int32_t n, int k) {
    float* g = m->data();
    std::vector<float> norm(n);
    for (int32_t i = 0; i < n; ++i) norm[i] = std::sqrt(std::max(g[static_cast<size_t>(i) * n + i], 0.0f));
#pragma omp parallel
    {
      std::vector<float> vals;
#pragma omp for schedule(dynamic, 64)
      for (int32_t i = 0; i < n; ++i) {
        float* row = g + static_cast<size_t>(i) * n;
        const float inv = norm[i] > 0 ? 1.0f / norm[i] : 0.0f;
        for (int32_t j = 0; j < n; ++j) row[j] = i != j ? row[j] * inv : 0.0f;
        if (k > 0 && k < n) {
          vals.assign(row, row + n);
          std::nth_element(vals.begin(), vals.begin() + (n - k), vals.end());
          const float cut = std::max(vals[n - k], 0.0f);
          for (int32_t j = 0; j < n; ++j) {
            if (row[j] < cut) row[j] = 0.0f;
          }
        }
      }
    }
    // Row i holds item i's neighbours: a user's score for j sums x_i·M_ij
    // over the user's items i.
    return Status::Ok();
  }

  // out = (x_u / ‖x_u‖)·L over the rows of L: the ranking is that of x_u·L,
  // and scores of heavy and light users compare (the sum over a long history
  // would saturate them). Weights are taken relative to the largest first,
  // so that decayed ones (years old: ~1e-30) neither underflow nor overflow.
  void UnitSum(const std::vector<std::pair<int32_t, double>>& x, float* out) const {
    double top = 0;
    for (const auto& [i, w] : x) top = std::max(top, w);
    if (!(top > 0) || !std::isfinite(top)) return;  // nothing weighs: the zero vector
    std::vector<double> acc(d_, 0.0);
    double norm = 0;
    for (const auto& [i, w] : x) {
      const double rel = w / top;
      norm += rel * rel;
      const float* row = left_.data() + static_cast<size_t>(i) * d_;
      for (int j = 0; j < d_; ++j) acc[j] += rel * row[j];
    }
    const double scale = 1 / std::sqrt(norm);
    for (int j = 0; j < d_; ++j) out[j] = static_cast<float>(acc[j] * scale);
  }

  std::string type_;
  int d_ = 0;
  std::vector<float> users_, items_, left_;
  int64_t n_items_ = 0;
  double lambda_ = 0;
  int neighbors_ = 0;
  double half_life_days_ = 0;  // item_knn: the decay the fit used
};

}  // namespace

std::unique_ptr<Model> NewEase() { return std::make_unique<ItemItem>("ease"); }
std::unique_ptr<Model> NewItemKnn() { return std::make_unique<ItemItem>("item_knn"); }

}  // namespace embedrec::ml
