// Popularity with time decay behind the Model interface (see ml/model.h).
#include <algorithm>
#include <cmath>

#include "ml/model.h"

namespace embedrec::ml {
namespace {

class Popularity final : public Model {
 public:
  std::string name() const override { return "popularity"; }
  int dim() const override { return 1; }
  const std::vector<float>& user_embeddings() const override { return users_; }
  const std::vector<float>& item_embeddings() const override { return items_; }
  int best_epoch() const override { return 1; }
  StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    RETURN_IF_ERROR(CheckFoldIn(items, static_cast<int64_t>(items_.size())));
    return std::vector<float>{1.0f};
  }
  StatusOr<ModelArtifact> Export() const override {
    if (items_.empty()) return Status::FailedPrecondition("the model is not trained");
    return ExportEmbeddings("popularity", 1, users_, items_, "{}");
  }
  Status Restore(const ModelArtifact& a) override {
    RETURN_IF_ERROR(CheckArtifact(a, "popularity"));
    if (a.dim != 1) return Status::InvalidArgument("a popularity model has dimension 1");
    users_ = a.user_emb;
    items_ = a.item_emb;
    return Status::Ok();
  }

  Status Fit(const Dataset& data, const TrainOptions& opt, const ProgressFn& progress) override {
    if (!(opt.half_life_days > 0)) return Status::InvalidArgument("half_life_days must be > 0");
    if (data.train_events.empty()) return Status::FailedPrecondition("no training interactions");
    int64_t newest = 0;
    for (const auto& e : data.train_events) newest = std::max(newest, e.ts);
    // Timestamps are seconds (CSV and the stores); 0 means unknown (no decay).
    const double half_life_s = opt.half_life_days * 86400.0;
    std::vector<double> score(data.n_items, 0.0);
    for (const auto& e : data.train_events) {
      double age = e.ts > 0 ? static_cast<double>(newest - e.ts) : 0.0;
      score[e.item] += e.weight * std::exp2(-age / half_life_s);
    }
    items_.assign(score.begin(), score.end());
    users_.assign(static_cast<size_t>(data.n_users), 1.0f);
    if (progress) {
      EpochReport r;
      r.epoch = 1;
      if (data.test.size() > 0 && opt.eval_every > 0) {
        r.metrics = Evaluate(data, users_.data(), items_.data(), 1, opt.ks, nullptr, opt.step_aside);
      }
      progress(r);
    }
    return Status::Ok();
  }

 private:
  std::vector<float> users_, items_;
};

}  // namespace

std::unique_ptr<Model> NewPopularity() { return std::make_unique<Popularity>(); }

}  // namespace embedrec::ml
