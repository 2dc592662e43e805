#include "ml/blend.h"

#include <cblas.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>

namespace embedrec::ml {
namespace json = boost::json;

namespace {

constexpr int kSpreadTop = 20;  // the scores a served list shows

// How far a part's top-20 scores stand above its mean score, averaged over
// a sample of training users (a few dozen on a large catalog: the figure
// only has to put the parts on one scale).
double Spread(const Model& m, const Dataset& data) {
  const int d = m.dim();
  const int64_t n_items = static_cast<int64_t>(m.item_embeddings().size()) / d;
  const int64_t n_users = static_cast<int64_t>(m.user_embeddings().size()) / d;
  if (n_items <= kSpreadTop || n_users == 0) return 1.0;
  const int64_t want = std::clamp<int64_t>(static_cast<int64_t>(2e8 / (static_cast<double>(n_items) * d)), 32, 256);
  std::vector<int32_t> users;
  const int64_t step = std::max<int64_t>(1, n_users / want);
  for (int64_t u = 0; u < n_users && static_cast<int64_t>(users.size()) < want; u += step) {
    if (u < data.train.num_users() && data.train.degree(static_cast<int32_t>(u)) > 0) {
      users.push_back(static_cast<int32_t>(u));
    }
  }
  if (users.empty()) return 1.0;
  std::vector<float> s(n_items);
  double total = 0;
  for (int32_t u : users) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n_items), d, 1.0f, m.item_embeddings().data(), d,
                m.user_embeddings().data() + static_cast<int64_t>(u) * d, 1, 0.0f, s.data(), 1);
    double mean = 0;
    for (float x : s) mean += x;
    mean /= static_cast<double>(n_items);
    std::nth_element(s.begin(), s.begin() + kSpreadTop, s.end(), std::greater<float>());
    double top = 0;
    for (int k = 0; k < kSpreadTop; ++k) top += s[k];
    total += top / kSpreadTop - mean;
  }
  const double spread = total / static_cast<double>(users.size());
  return spread > 1e-12 ? spread : 1.0;
}

double RmsNorm(const std::vector<float>& rows, int d) {
  const int64_t n = static_cast<int64_t>(rows.size()) / d;
  if (n == 0) return 1.0;
  double s = 0;
  for (float x : rows) s += static_cast<double>(x) * x;
  const double r = std::sqrt(s / static_cast<double>(n));
  return r > 1e-12 ? r : 1.0;
}

class Blend final : public Model {
 public:
  std::string name() const override { return "blend"; }
  int dim() const override { return d_; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return items_.empty() ? 0 : 1; }

  // The parts fitted anew (the refit), one "epoch" each.
  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    if (!opt.blend || opt.blend->parts.size() < 2) {
      return Status::InvalidArgument("a blend is made by the auto search from the models it trained");
    }
    std::vector<std::shared_ptr<const Model>> fitted;
    int epoch = 0;
    for (const BlendPart& p : opt.blend->parts) {
      const auto t0 = std::chrono::steady_clock::now();
      auto m = NewModel(p.type);
      TrainOptions po = p.options;
      po.cancel = opt.cancel;
      po.threads = opt.threads;
      po.eval_every = 0;
      po.patience = 0;
      po.warm_start = nullptr;
      WarmStart warm;
      if (p.continue_from) {
        ASSIGN_OR_RETURN(ModelArtifact a, p.continue_from->Export());
        warm.dim = static_cast<int>(a.dim);
        warm.users = a.user_ego.empty() ? std::move(a.user_emb) : std::move(a.user_ego);
        warm.items = a.item_ego.empty() ? std::move(a.item_emb) : std::move(a.item_ego);
        if (warm.users.size() == static_cast<size_t>(data.n_users) * warm.dim &&
            warm.items.size() == static_cast<size_t>(data.n_items) * warm.dim) {
          warm.user_known.assign(data.n_users, 1);
          warm.item_known.assign(data.n_items, 1);
          po.warm_start = &warm;
        }
      }
      RETURN_IF_ERROR(m->Fit(data, po, nullptr));
      fitted.push_back(std::move(m));
      if (progress) {
        EpochReport r;
        r.epoch = ++epoch;
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        progress(r);
      }
    }
    return Make(fitted, opt.blend->parts, data);
  }

  Status Make(const std::vector<std::shared_ptr<const Model>>& parts, const std::vector<BlendPart>& spec,
              const Dataset& data) {
    if (parts.size() < 2 || parts.size() != spec.size()) {
      return Status::InvalidArgument("a blend needs two parts or more, each with its spec");
    }
    std::vector<Part> ps;
    for (size_t k = 0; k < parts.size(); ++k) {
      Part p;
      p.type = spec[k].type;
      p.weight = spec[k].weight;
      p.model = parts[k];
      p.d = parts[k]->dim();
      p.norm = RmsNorm(parts[k]->item_embeddings(), p.d);
      p.multiplier = p.weight * p.norm / Spread(*parts[k], data);
      ps.push_back(std::move(p));
    }
    return Assemble(std::move(ps));
  }

  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    std::vector<float> q;
    q.reserve(d_);
    for (const Part& p : parts_) {
      ASSIGN_OR_RETURN(auto f, p.model->FoldIn(items));
      for (float x : f) q.push_back(static_cast<float>(x * p.multiplier));
    }
    return q;
  }

  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    json::array parts;
    std::vector<ModelArtifact> exported;
    bool any_ego = false;
    for (const Part& p : parts_) {
      ASSIGN_OR_RETURN(ModelArtifact a, p.model->Export());
      any_ego = any_ego || IsItemToItem(p.type);
      parts.push_back(json::object{{"model_type", ModelTypeName(p.type)}, {"dim", p.d}, {"weight", p.weight},
                                   {"multiplier", p.multiplier}, {"norm", p.norm},
                                   {"params", json::parse(a.params_json)}});
      exported.push_back(std::move(a));
    }
    ModelArtifact out = ExportEmbeddings("blend", d_, users_, items_, json::serialize(json::object{{"parts", parts}}));
    if (any_ego) {
      // The item-to-item parts' fold-in factor, side by side (zeros for the others).
      const int64_t n = n_items_;
      out.item_ego.assign(static_cast<size_t>(n) * d_, 0.0f);
      int offset = 0;
      for (size_t k = 0; k < parts_.size(); ++k) {
        const Part& p = parts_[k];
        if (IsItemToItem(p.type)) {
          for (int64_t i = 0; i < n; ++i) {
            std::copy_n(exported[k].item_ego.data() + i * p.d, p.d, out.item_ego.data() + i * d_ + offset);
          }
        }
        offset += p.d;
      }
      out.user_ego = users_;  // the file keeps ego rows in pairs
    }
    return out;
  }

  Status Restore(const ModelArtifact& a) override {
    RETURN_IF_ERROR(CheckArtifact(a, "blend"));
    boost::system::error_code ec;
    json::value v = json::parse(a.params_json, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    const json::value* list = o ? o->if_contains("parts") : nullptr;
    if (!list || !list->is_array() || list->as_array().size() < 2) {
      return Status::InvalidArgument("a blend model needs its parts");
    }
    std::vector<Part> ps;
    int total = 0;
    for (const json::value& pv : list->as_array()) {
      const json::object* po = pv.if_object();
      auto number = [&](const char* key) -> std::optional<double> {
        const json::value* x = po ? po->if_contains(key) : nullptr;
        if (!x || !x->is_number()) return std::nullopt;
        return x->to_number<double>();
      };
      const json::value* type = po ? po->if_contains("model_type") : nullptr;
      const json::value* params = po ? po->if_contains("params") : nullptr;
      auto t = type && type->is_string() ? ParseModelType(type->as_string()) : std::nullopt;
      auto d = number("dim"), w = number("weight"), m = number("multiplier"), norm = number("norm");
      if (!t || *t == ModelType::kBlend || !params || !d || !w || !m || !norm || *d < 1 || *d > a.dim) {
        return Status::InvalidArgument("a blend part is malformed");
      }
      Part p;
      p.type = *t;
      p.d = static_cast<int>(*d);
      p.weight = *w;
      p.multiplier = *m;
      p.norm = *norm;
      p.params = json::serialize(*params);
      total += p.d;
      ps.push_back(std::move(p));
    }
    if (total != static_cast<int>(a.dim)) return Status::InvalidArgument("a blend's parts do not add up to its dimension");
    if (!a.item_ego.empty() && a.item_ego.size() != a.item_emb.size()) {
      return Status::InvalidArgument("ego embedding sizes are inconsistent");
    }
    // Each part restored from its slice of the item rows (its own scale
    // back) and, for an item-to-item part, of the fold-in factor; the users'
    // rows are the blend's own.
    const int64_t n = static_cast<int64_t>(a.n_items);
    int offset = 0;
    for (Part& p : ps) {
      ModelArtifact pa;
      pa.model_type = std::string(ModelTypeName(p.type));
      pa.dim = static_cast<uint32_t>(p.d);
      pa.n_items = static_cast<uint64_t>(n);
      pa.params_json = p.params;
      pa.item_emb.resize(static_cast<size_t>(n) * p.d);
      for (int64_t i = 0; i < n; ++i) {
        for (int j = 0; j < p.d; ++j) {
          pa.item_emb[i * p.d + j] = static_cast<float>(a.item_emb[i * a.dim + offset + j] * p.norm);
        }
      }
      if (IsItemToItem(p.type)) {
        if (a.item_ego.empty()) return Status::InvalidArgument("an " + pa.model_type + " part needs its input factor");
        pa.item_ego.resize(pa.item_emb.size());
        for (int64_t i = 0; i < n; ++i) std::copy_n(a.item_ego.data() + i * a.dim + offset, p.d, pa.item_ego.data() + i * p.d);
      }
      auto m = NewModel(p.type);
      RETURN_IF_ERROR(m->Restore(pa));
      p.model = std::move(m);
      offset += p.d;
    }
    parts_ = std::move(ps);
    d_ = static_cast<int>(a.dim);
    n_items_ = n;
    users_ = a.user_emb;
    items_ = a.item_emb;
    return Status::Ok();
  }

 private:
  struct Part {
    ModelType type = ModelType::kAls;
    int d = 0;
    double weight = 0, multiplier = 1, norm = 1;
    std::string params;  // restored parts: the file's
    std::shared_ptr<const Model> model;
  };

  // The blend's rows from its parts'.
  Status Assemble(std::vector<Part> ps) {
    const int64_t n_items = static_cast<int64_t>(ps[0].model->item_embeddings().size()) / ps[0].d;
    const int64_t n_users = static_cast<int64_t>(ps[0].model->user_embeddings().size()) / ps[0].d;
    int d = 0;
    for (const Part& p : ps) {
      if (static_cast<int64_t>(p.model->item_embeddings().size()) != n_items * p.d ||
          static_cast<int64_t>(p.model->user_embeddings().size()) != n_users * p.d) {
        return Status::InvalidArgument("a blend's parts must know the same users and items");
      }
      d += p.d;
    }
    std::vector<float> items(static_cast<size_t>(n_items) * d), users(static_cast<size_t>(n_users) * d);
    int offset = 0;
    for (const Part& p : ps) {
      const auto& pi = p.model->item_embeddings();
      const auto& pu = p.model->user_embeddings();
      for (int64_t i = 0; i < n_items; ++i) {
        for (int j = 0; j < p.d; ++j) items[i * d + offset + j] = static_cast<float>(pi[i * p.d + j] / p.norm);
      }
      for (int64_t u = 0; u < n_users; ++u) {
        for (int j = 0; j < p.d; ++j) users[u * d + offset + j] = static_cast<float>(pu[u * p.d + j] * p.multiplier);
      }
      offset += p.d;
    }
    parts_ = std::move(ps);
    d_ = d;
    n_items_ = n_items;
    items_ = std::move(items);
    users_ = std::move(users);
    return Status::Ok();
  }

  std::vector<Part> parts_;
  int d_ = 0;
  int64_t n_items_ = 0;
  std::vector<float> users_, items_;
};

}  // namespace

std::unique_ptr<Model> NewBlend() { return std::make_unique<Blend>(); }

StatusOr<std::unique_ptr<Model>> BlendOf(const std::vector<std::shared_ptr<const Model>>& parts,
                                         const std::vector<BlendPart>& spec, const Dataset& data) {
  auto b = std::make_unique<Blend>();
  RETURN_IF_ERROR(b->Make(parts, spec, data));
  return std::unique_ptr<Model>(std::move(b));
}

bool BlendHasItemToItem(std::string_view params_json) {
  boost::system::error_code ec;
  json::value v = json::parse(params_json, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* list = o ? o->if_contains("parts") : nullptr;
  if (!list || !list->is_array()) return false;
  for (const json::value& p : list->as_array()) {
    const json::value* t = p.is_object() ? p.as_object().if_contains("model_type") : nullptr;
    if (t && t->is_string()) {
      if (auto type = ParseModelType(t->as_string()); type && IsItemToItem(*type)) return true;
    }
  }
  return false;
}

}  // namespace embedrec::ml
