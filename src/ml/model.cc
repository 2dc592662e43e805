#include "ml/model.h"

#include <algorithm>

namespace embedrec::ml {

std::unique_ptr<Model> NewModel(ModelType type) {
  switch (type) {
    case ModelType::kLightGcn: return NewLightGcn();
    case ModelType::kBprMf: return NewBprMf();
    case ModelType::kAls: return NewAls();
    case ModelType::kPopularity: return NewPopularity();
    case ModelType::kEase: return NewEase();
    case ModelType::kItemKnn: return NewItemKnn();
    case ModelType::kBlend: return NewBlend();
  }
  return nullptr;
}

StatusOr<std::unique_ptr<Model>> LoadModel(const ModelArtifact& artifact) {
  auto type = ParseModelType(artifact.model_type);
  if (!type) return Status::InvalidArgument("unknown model type '" + artifact.model_type + "'");
  auto model = NewModel(*type);
  RETURN_IF_ERROR(model->Restore(artifact));
  return model;
}

ModelArtifact ExportEmbeddings(const std::string& type, int dim, const std::vector<float>& users,
                               const std::vector<float>& items, std::string params_json) {
  ModelArtifact a;
  a.model_type = type;
  a.dim = static_cast<uint32_t>(dim);
  a.n_users = users.size() / dim;
  a.n_items = items.size() / dim;
  a.user_emb = users;
  a.item_emb = items;
  a.params_json = std::move(params_json);
  return a;
}

Status CheckArtifact(const ModelArtifact& a, const std::string& type) {
  if (a.model_type != type) {
    return Status::InvalidArgument("a " + a.model_type + " model cannot be restored as " + type);
  }
  if (a.dim == 0 || a.user_emb.size() != a.n_users * a.dim ||
      a.item_emb.size() != a.n_items * a.dim) {
    return Status::InvalidArgument("model sizes are inconsistent");
  }
  if ((!a.user_ego.empty() && a.user_ego.size() != a.user_emb.size()) ||
      (!a.item_ego.empty() && a.item_ego.size() != a.item_emb.size())) {
    return Status::InvalidArgument("ego embedding sizes are inconsistent");
  }
  return Status::Ok();
}

Status ApplyWarmStart(const WarmStart& w, int dim, float* users, int64_t n_users, float* items,
                      int64_t n_items) {
  if (w.dim != dim) {
    return Status::InvalidArgument("the starting model has " + std::to_string(w.dim) +
                                   " dimensions, not " + std::to_string(dim));
  }
  const auto rows = [dim](const std::vector<float>& v) { return static_cast<int64_t>(v.size()) / dim; };
  if (rows(w.users) != n_users || rows(w.items) != n_items ||
      static_cast<int64_t>(w.user_known.size()) != n_users ||
      static_cast<int64_t>(w.item_known.size()) != n_items) {
    return Status::InvalidArgument("warm start sizes differ from the data set's");
  }
  for (int64_t u = 0; u < n_users; ++u) {
    if (w.user_known[u]) std::copy_n(w.users.data() + u * dim, dim, users + u * dim);
  }
  for (int64_t i = 0; i < n_items; ++i) {
    if (w.item_known[i]) std::copy_n(w.items.data() + i * dim, dim, items + i * dim);
  }
  return Status::Ok();
}

Status CancelledStatus() { return Status(StatusCode::kCancelled, "training was cancelled"); }

Status CheckFoldIn(const Model::ItemWeights& items, int64_t n_items) {
  if (items.empty()) return Status::InvalidArgument("fold-in needs at least one item");
  for (const auto& [item, w] : items) {
    if (item < 0 || item >= n_items) {
      return Status::InvalidArgument("item index " + std::to_string(item) + " is out of range");
    }
    if (!(w > 0)) return Status::InvalidArgument("fold-in weights must be > 0");
  }
  return Status::Ok();
}

std::vector<float> WeightedMeanOfItems(const std::vector<float>& item_emb, int d,
                                       const Model::ItemWeights& items) {
  std::vector<double> sum(d, 0.0);
  double total = 0;
  for (const auto& [item, w] : items) {
    const float* row = item_emb.data() + static_cast<size_t>(item) * d;
    for (int j = 0; j < d; ++j) sum[j] += static_cast<double>(w) * row[j];
    total += w;
  }
  std::vector<float> out(d);
  for (int j = 0; j < d; ++j) out[j] = static_cast<float>(sum[j] / total);
  return out;
}

}  // namespace embedrec::ml
