// A blend of trained models (see ml/model.h): the score is
// Σ_k mix_k · (u_k · i_k) / spread_k, where spread_k is the typical spread
// of part k's scores over a user's items (the mean over a fixed sample of
// users of the standard deviation of their scores over a fixed sample of
// items), so that each part's mix is its share of the ranking whatever the
// scale of its scores. Written as one dot product of the parts' rows side
// by side, each scaled by √(mix_k / spread_k): the item index, the
// evaluator, calibration and serving see one embedding model.
//
// Why: two model families err differently (an item-to-item model and a
// factor model), and their sum ranks better than either: offline on three
// generated shops, EASE and ALS at half each gave hit@20 +0.014 to +0.028
// over the better of the two (docs/benchmarks.md, "A blend of the search's
// two best").
#include <boost/json.hpp>
#include <cmath>

#include "ml/model.h"

namespace embedrec::ml {
namespace {

namespace json = boost::json;

constexpr int64_t kSpreadUsers = 256;   // users sampled for a part's spread
constexpr int64_t kSpreadItems = 2048;  // items sampled per user

// Every `step`-th index of n, at most `most` of them.
std::vector<int64_t> Strided(int64_t n, int64_t most) {
  std::vector<int64_t> out;
  const int64_t step = std::max<int64_t>(1, n / most);
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.size()) < most; i += step) out.push_back(i);
  return out;
}

// The mean over sampled users of the standard deviation of their scores
// over sampled items.
double Spread(const Model& m) {
  const int d = m.dim();
  const auto& users = m.user_embeddings();
  const auto& items = m.item_embeddings();
  const int64_t n_users = static_cast<int64_t>(users.size()) / d, n_items = static_cast<int64_t>(items.size()) / d;
  const auto us = Strided(n_users, kSpreadUsers), is = Strided(n_items, kSpreadItems);
  double total = 0;
  int64_t counted = 0;
  for (int64_t u : us) {
    double s = 0, s2 = 0;
    for (int64_t i : is) {
      double x = 0;
      for (int j = 0; j < d; ++j) x += static_cast<double>(users[u * d + j]) * items[i * d + j];
      s += x;
      s2 += x * x;
    }
    const double n = static_cast<double>(is.size());
    const double var = s2 / n - (s / n) * (s / n);
    if (var > 0) {
      total += std::sqrt(var);
      ++counted;
    }
  }
  return counted > 0 ? total / counted : 0;
}

class Blend final : public Model {
 public:
  explicit Blend(std::vector<BlendPart> parts) : parts_(std::move(parts)) {}
  Blend(std::vector<BlendPart> parts, std::vector<std::shared_ptr<const Model>> fitted)
      : parts_(std::move(parts)), models_(std::move(fitted)) {}

  std::string name() const override { return "blend"; }
  int dim() const override { return d_; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return best_epoch_; }

  // Each part fitted anew with its own options (the cancel flag, the
  // threads and the progress of `opt`); epochs are counted across parts.
  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    models_.clear();
    int done = 0;
    for (const BlendPart& p : parts_) {
      auto m = NewModel(p.type);
      TrainOptions o = p.options;
      o.cancel = opt.cancel;
      o.threads = opt.threads;  // the part's own warm start, if it has one, is kept
      RETURN_IF_ERROR(m->Fit(data, o, [&](const EpochReport& r) {
        if (!progress) return;
        EpochReport e = r;
        e.epoch = done + r.epoch;
        progress(e);
      }));
      done += std::max(1, m->best_epoch());
      models_.push_back(std::move(m));
    }
    return Assemble();
  }

  // The parts' fold-ins side by side, scaled as their rows are.
  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (users_.empty() && items_.empty()) return Status::FailedPrecondition("the model is not trained");
    std::vector<float> out;
    out.reserve(d_);
    for (size_t k = 0; k < models_.size(); ++k) {
      ASSIGN_OR_RETURN(auto f, models_[k]->FoldIn(items));
      for (float x : f) out.push_back(static_cast<float>(x * root_[k]));
    }
    return out;
  }

  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    json::array parts;
    std::vector<ModelArtifact> exported;
    for (size_t k = 0; k < models_.size(); ++k) {
      ASSIGN_OR_RETURN(auto a, models_[k]->Export());
      parts.push_back(json::object{{"type", a.model_type},
                                   {"dim", a.dim},
                                   {"mix", parts_[k].mix},
                                   {"weight", root_[k] * root_[k]},
                                   {"params", json::parse(a.params_json)}});
      exported.push_back(std::move(a));
    }
    ModelArtifact out = ExportEmbeddings("blend", d_, users_, items_, json::serialize(json::object{{"parts", parts}}));
    // The parts' own rows (an item-to-item part's fold-in needs its input
    // factor, kept as its item ego rows; the others' final rows unscaled).
    const int64_t n_users = static_cast<int64_t>(out.n_users), n_items = static_cast<int64_t>(out.n_items);
    out.user_ego.assign(users_.size(), 0.0f);
    out.item_ego.assign(items_.size(), 0.0f);
    int offset = 0;
    for (const auto& a : exported) {
      const int d = static_cast<int>(a.dim);
      const auto& ue = a.user_ego.empty() ? a.user_emb : a.user_ego;
      const auto& ie = a.item_ego.empty() ? a.item_emb : a.item_ego;
      for (int64_t u = 0; u < n_users; ++u) std::copy_n(ue.data() + u * d, d, out.user_ego.data() + u * d_ + offset);
      for (int64_t i = 0; i < n_items; ++i) std::copy_n(ie.data() + i * d, d, out.item_ego.data() + i * d_ + offset);
      offset += d;
    }
    return out;
  }

  Status Restore(const ModelArtifact& a) override {
    ASSIGN_OR_RETURN(std::vector<ModelArtifact> subs, BlendPartArtifacts(a));
    json::value p = json::parse(a.params_json);  // parsed by BlendPartArtifacts
    const json::array& parts = p.as_object().at("parts").as_array();
    std::vector<BlendPart> specs;
    std::vector<std::shared_ptr<const Model>> models;
    std::vector<double> root;
    for (size_t k = 0; k < subs.size(); ++k) {
      ModelArtifact& sub = subs[k];
      const ModelType type = *ParseModelType(sub.model_type);
      sub.user_ego.clear();  // serving's fold-in needs an item-to-item part's input factor only
      if (!IsItemToItem(type)) sub.item_ego.clear();
      auto m = NewModel(type);
      RETURN_IF_ERROR(m->Restore(sub));
      const json::object& o = parts[k].as_object();
      BlendPart spec{type, TrainOptions(), o.contains("mix") && o.at("mix").is_number() ? o.at("mix").to_number<double>() : 0};
      spec.options.embedding_dim = static_cast<int>(sub.dim);
      specs.push_back(spec);
      models.push_back(std::move(m));
      root.push_back(std::sqrt(o.at("weight").to_number<double>()));
    }
    parts_ = std::move(specs);
    models_ = std::move(models);
    root_ = std::move(root);
    d_ = static_cast<int>(a.dim);
    users_ = a.user_emb;
    items_ = a.item_emb;
    best_epoch_ = 0;
    return Status::Ok();
  }

  // The rows side by side from the fitted parts, each scaled by
  // √(mix / spread).
  Status Assemble() {
    if (models_.size() != parts_.size() || models_.empty()) return Status::InvalidArgument("a blend needs its parts");
    const int64_t n_users = static_cast<int64_t>(models_[0]->user_embeddings().size()) / models_[0]->dim();
    const int64_t n_items = static_cast<int64_t>(models_[0]->item_embeddings().size()) / models_[0]->dim();
    d_ = 0;
    root_.clear();
    best_epoch_ = 0;
    for (size_t k = 0; k < models_.size(); ++k) {
      const Model& m = *models_[k];
      const int d = m.dim();
      if (static_cast<int64_t>(m.user_embeddings().size()) != n_users * d ||
          static_cast<int64_t>(m.item_embeddings().size()) != n_items * d) {
        return Status::InvalidArgument("a blend's parts were fitted on different data");
      }
      const double spread = Spread(m);
      if (!(spread > 0) || !(parts_[k].mix > 0)) {
        return Status::FailedPrecondition("a blend's " + m.name() + " part ranks nothing apart");
      }
      root_.push_back(std::sqrt(parts_[k].mix / spread));
      d_ += d;
      best_epoch_ += std::max(1, m.best_epoch());
    }
    users_.assign(static_cast<size_t>(n_users) * d_, 0.0f);
    items_.assign(static_cast<size_t>(n_items) * d_, 0.0f);
    int offset = 0;
    for (size_t k = 0; k < models_.size(); ++k) {
      const Model& m = *models_[k];
      const int d = m.dim();
      const float r = static_cast<float>(root_[k]);
      for (int64_t u = 0; u < n_users; ++u) {
        for (int j = 0; j < d; ++j) users_[u * d_ + offset + j] = r * m.user_embeddings()[u * d + j];
      }
      for (int64_t i = 0; i < n_items; ++i) {
        for (int j = 0; j < d; ++j) items_[i * d_ + offset + j] = r * m.item_embeddings()[i * d + j];
      }
      offset += d;
    }
    return Status::Ok();
  }

 private:
  std::vector<BlendPart> parts_;
  std::vector<std::shared_ptr<const Model>> models_;
  std::vector<double> root_;  // √(mix / spread) per part
  int d_ = 0;
  int best_epoch_ = 0;
  std::vector<float> users_, items_;
};

}  // namespace

StatusOr<std::vector<ModelArtifact>> BlendPartArtifacts(const ModelArtifact& a) {
  RETURN_IF_ERROR(CheckArtifact(a, "blend"));
  json::error_code ec;
  json::value p = json::parse(a.params_json, ec);
  const json::array* parts =
      !ec && p.is_object() && p.as_object().contains("parts") ? p.as_object().at("parts").if_array() : nullptr;
  if (!parts || parts->empty()) return Status::InvalidArgument("a blend model needs its parts");
  std::vector<ModelArtifact> out;
  const int64_t n_users = static_cast<int64_t>(a.n_users), n_items = static_cast<int64_t>(a.n_items);
  const int D = static_cast<int>(a.dim);
  int offset = 0;
  for (const auto& v : *parts) {
    const json::object* o = v.if_object();
    const json::string* type_name = o && o->contains("type") ? o->at("type").if_string() : nullptr;
    auto type = type_name ? ParseModelType(*type_name) : std::nullopt;
    if (!type || *type == ModelType::kBlend || !o->contains("dim") || !o->at("dim").is_number() ||
        !o->contains("weight") || !o->at("weight").is_number() || !o->contains("params")) {
      return Status::InvalidArgument("a blend model's part is malformed");
    }
    const int d = static_cast<int>(o->at("dim").to_number<double>());
    const double weight = o->at("weight").to_number<double>();
    if (d <= 0 || offset + d > D || !(weight > 0)) return Status::InvalidArgument("a blend model's part is malformed");
    if (IsItemToItem(*type) && a.item_ego.empty()) {
      return Status::InvalidArgument("a blend's " + std::string(*type_name) + " part needs its input factor");
    }
    const double r = std::sqrt(weight);
    ModelArtifact sub;
    sub.model_type = std::string(ModelTypeName(*type));
    sub.dim = static_cast<uint32_t>(d);
    sub.n_users = a.n_users;
    sub.n_items = a.n_items;
    sub.params_json = json::serialize(o->at("params"));
    sub.user_ids = a.user_ids;
    sub.item_ids = a.item_ids;
    auto slice = [&](const std::vector<float>& from, int64_t rows, double scale, std::vector<float>& to) {
      if (from.empty()) return;
      to.resize(static_cast<size_t>(rows) * d);
      for (int64_t x = 0; x < rows; ++x) {
        for (int j = 0; j < d; ++j) to[x * d + j] = static_cast<float>(from[x * D + offset + j] / scale);
      }
    };
    slice(a.user_emb, n_users, r, sub.user_emb);
    slice(a.item_emb, n_items, r, sub.item_emb);
    slice(a.user_ego, n_users, 1.0, sub.user_ego);
    slice(a.item_ego, n_items, 1.0, sub.item_ego);
    out.push_back(std::move(sub));
    offset += d;
  }
  if (offset != D) return Status::InvalidArgument("a blend model's parts do not add up to its dimension");
  return out;
}

std::unique_ptr<Model> NewBlend(std::vector<BlendPart> parts) { return std::make_unique<Blend>(std::move(parts)); }

StatusOr<std::unique_ptr<Model>> BlendOf(std::vector<BlendPart> parts,
                                         std::vector<std::shared_ptr<const Model>> fitted) {
  auto b = std::make_unique<Blend>(std::move(parts), std::move(fitted));
  RETURN_IF_ERROR(b->Assemble());
  return std::unique_ptr<Model>(std::move(b));
}

}  // namespace embedrec::ml
