// The recommender models' common interface. A model learns one embedding
// per user and per item from a Dataset; a user's score for an item is the
// dot product of their final embeddings. LightGCN is the first model;
// popularity, bpr_mf and als share this interface, the data loading and
// the evaluator (issue 4).
//
// Not thread safe: one Fit at a time; the embeddings may be read
// concurrently once Fit has returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/step_aside.h"
#include "ml/model_type.h"
#include "ml/dataset.h"
#include "ml/evaluator.h"
#include "ml/model_file.h"

namespace embedrec::ml {

// Starting embeddings for a warm start (incremental training), in the
// dataset's numbering: rows whose flag is set start from the given vector,
// the others from the model's usual initialisation.
struct WarmStart {
  int dim = 0;
  std::vector<float> users, items;  // n_users × dim, n_items × dim
  std::vector<uint8_t> user_known, item_known;
};

struct BlendSpec;  // ml/blend.h

// Hyperparameters, named as the API names them.
struct TrainOptions {
  int embedding_dim = 64;
  int num_layers = 3;
  double learning_rate = 0.001;
  // Samples per step; 0: scaled to the data (BatchSizeFor).
  int batch_size = 0;
  int epochs = 100;           // als: alternations
  int negative_samples = 1;  // negatives per positive
  double reg = 1e-4;         // L2 on the batch's ego embeddings
  uint64_t seed = 2020;
  int threads = 0;           // 0: OpenMP's default
  int eval_every = 10;       // epochs between evaluations on data.test (0: never)
  int patience = 0;          // evaluations without a better ndcg@10 before stopping (0: off)
  // lightgcn, bpr_mf: stop after the epoch past which another would end
  // beyond this many seconds since the fit began (validations included),
  // and keep the best evaluation's embeddings (0: no budget).
  double time_budget_seconds = 0;
  std::vector<int> ks{10, 20};
  // popularity, item_knn: weight of an event halves every this many days
  // (item_knn, ≤ 0: from the data, DataHalfLifeDays).
  double half_life_days = 30;
  double alpha = 10;           // als: confidence 1 + alpha * (summed event weights)
  double lambda = 500;         // ease: L2 of the item × item solve
  int neighbors = 0;           // item_knn: neighbours kept per item (0: all)
  // lightgcn: 0 for the exact propagation step, else the sampled step with
  // this many random walks per occurrence of a node in the batch and
  // `refreshes` full propagations per epoch (ml/lightgcn.h; opt-in).
  int walks = 0;
  int refreshes = 4;
  // lightgcn, bpr_mf: the loss. kBpr as the reference (negative_samples per
  // positive); kSoftmax, the sampled softmax of the scores at `temperature`
  // over `softmax_negatives` uniform negatives shared by each batch.
  enum class Loss { kBpr, kSoftmax };
  Loss loss = Loss::kBpr;
  double temperature = 1;
  int softmax_negatives = 4096;
  // blend: the models it blends and their weights (ml/blend.h); the auto
  // search sets it, a request cannot.
  std::shared_ptr<const BlendSpec> blend;
  // Not hyperparameters: set by the caller, may be null.
  const std::atomic<bool>* cancel = nullptr;  // when it turns true, Fit returns kCancelled soon
  StepAside* step_aside = nullptr;            // asked between batches (common/step_aside.h)
  const WarmStart* warm_start = nullptr;      // lightgcn, bpr_mf, als; ignored by popularity

  // kInvalidArgument naming the first bad value.
  Status Validate() const;

  // The batch a fit over `pairs` training pairs uses: batch_size when set;
  // else, for LightGCN's exact step (`propagates`: layers > 0, no walks), one
  // with ~kStepsPerEpoch steps per epoch and at least kDefaultBatch samples
  // (the reference's batch makes 24 steps of the 150K shop's epoch), and
  // kDefaultBatch otherwise. Why: that step costs about the whole graph
  // whatever its batch, so a fixed batch makes an epoch cost pairs² while a
  // fixed number of steps keeps it linear; measured to reach the small
  // batch's quality in about the same time and to go past it
  // (docs/benchmarks.md, "LightGCN's batch scaled to the data").
  static constexpr int kDefaultBatch = 2048;
  static constexpr int64_t kStepsPerEpoch = 32;
  int BatchSizeFor(int64_t pairs, bool propagates) const;
  // Whether a fit of `type` with these options takes LightGCN's exact
  // (propagating) step: lightgcn with layers and no walks.
  bool Propagates(ModelType type) const {
    return type == ModelType::kLightGcn && num_layers > 0 && walks == 0;
  }
  // The learning rate to use with `batch` when none was given: larger
  // batches take fewer steps, so the rate grows with the batch
  // (learning_rate × batch / kDefaultBatch), up to kMaxScaledLearningRate —
  // the rate our recipe was measured with at a batch ten times the
  // reference's — and never below learning_rate.
  static constexpr double kMaxScaledLearningRate = 0.01;
  double LearningRateFor(int batch) const;
};

struct EpochReport {
  int epoch = 0;          // 1-based
  double loss = 0;        // mean loss (BPR or softmax) + reg over the epoch's batches
  double seconds = 0;     // training time of this epoch
  double paused_seconds = 0;  // of which stood aside for requests (options.step_aside)
  std::optional<Metrics> metrics;  // when evaluated after this epoch
  double eval_seconds = 0;  // its validation's, without the time it stood aside (ValidationSeconds)
  bool out_of_time = false;  // the time budget ends the fit after this epoch
};
using ProgressFn = std::function<void(const EpochReport&)>;

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  // Learns from data.train; evaluates on data.test every eval_every epochs.
  // With patience > 0 it stops early and keeps the best evaluation's
  // embeddings. `progress` (may be null) is called after every epoch.
  // kCancelled when options.cancel turned true (checked between batches);
  // kInvalidArgument for a warm start of another dimension.
  virtual Status Fit(const Dataset& data, const TrainOptions& options,
                     const ProgressFn& progress) = 0;
  virtual int dim() const = 0;
  // Final embeddings after Fit: n_users × dim and n_items × dim, row-major.
  virtual const std::vector<float>& user_embeddings() const = 0;
  virtual const std::vector<float>& item_embeddings() const = 0;
  // The epoch whose embeddings are kept.
  virtual int best_epoch() const = 0;

  // An embedding for a user the model was not trained on (or whose history
  // changed), from the items they interacted with: (item index, weight > 0).
  // Scores against item_embeddings() rank items for that user at once,
  // without retraining. kInvalidArgument for an item out of range, an
  // empty list or a weight ≤ 0; kFailedPrecondition before Fit.
  //   lightgcn, bpr_mf: the weighted mean of the items' final embeddings (an
  //     approximation: the user has no ego embedding to propagate);
  //   als: the exact least-squares solve of one ALS half-step with the items fixed;
  //   popularity: the same vector for everyone.
  using ItemWeights = std::vector<std::pair<int32_t, float>>;
  virtual StatusOr<std::vector<float>> FoldIn(const ItemWeights& items) const = 0;

  // Save and load: the trained state as a model file's content (no ids, no
  // metadata: the caller adds them), and back. A restored model serves
  // embeddings and FoldIn exactly as the trained one did; Fit trains anew.
  // Export: kFailedPrecondition before Fit. Restore: kInvalidArgument for
  // another model type or inconsistent sizes.
  virtual StatusOr<ModelArtifact> Export() const = 0;
  virtual Status Restore(const ModelArtifact& artifact) = 0;
};

// The model a file holds, ready to serve (NewModel(type) + Restore).
StatusOr<std::unique_ptr<Model>> LoadModel(const ModelArtifact& artifact);

// For Export/Restore implementations: the common fields, and their checks.
ModelArtifact ExportEmbeddings(const std::string& type, int dim, const std::vector<float>& users,
                               const std::vector<float>& items, std::string params_json);
Status CheckArtifact(const ModelArtifact& a, const std::string& type);
// Overwrites the rows of `users`/`items` (n × dim, dataset numbering) that the
// warm start knows. kInvalidArgument when its dimension or sizes differ.
Status ApplyWarmStart(const WarmStart& w, int dim, float* users, int64_t n_users, float* items,
                      int64_t n_items);
// True when the cancel flag of `options` is set.
inline bool Cancelled(const TrainOptions& o) {
  return o.cancel && o.cancel->load(std::memory_order_relaxed);
}
// Between two batches: stands aside while requests wait (options.step_aside).
inline void StepAsideForRequests(const TrainOptions& o) {
  if (o.step_aside) o.step_aside->Between();
}
// The seconds stood aside so far (0 without options.step_aside).
inline double SecondsAside(const TrainOptions& o) {
  return PausedSeconds(o.step_aside);
}
// Runs a fit's validation (`evaluate`, which asks options.step_aside between
// its blocks): its seconds without the time it stood aside, as the
// epochs' speed is learned without it.
template <typename Evaluation>
double ValidationSeconds(const TrainOptions& o, Evaluation&& evaluate) {
  const auto start = std::chrono::steady_clock::now();
  const double aside = SecondsAside(o);
  evaluate();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - (SecondsAside(o) - aside);
}
Status CancelledStatus();

// Checks `items` against n_items (the errors FoldIn documents).
Status CheckFoldIn(const Model::ItemWeights& items, int64_t n_items);
// Σ w·item / Σ w over `items` (d-dimensional rows of `item_emb`).
std::vector<float> WeightedMeanOfItems(const std::vector<float>& item_emb, int d,
                                       const Model::ItemWeights& items);

// LightGCN (ml/lightgcn.h).
std::unique_ptr<Model> NewLightGcn();
// Matrix factorisation trained with BPR: LightGCN's loss, sampler and
// optimiser with no propagation layers (final embedding = ego embedding).
std::unique_ptr<Model> NewBprMf();
// Item popularity with time decay (ml/popularity.cc): every training event
// counts its weight × 2^(−age / half-life), age from the newest event; as
// embeddings of dimension 1 (users 1, items their popularity) so that the
// evaluator ranks it like any model. Without timestamps: plain counts.
std::unique_ptr<Model> NewPopularity();
// Implicit ALS (ml/als.cc): `epochs` alternations, `reg` as λ, `alpha` for
// the confidence; exact Cholesky solves (Eigen).
std::unique_ptr<Model> NewAls();
// Item-to-item models (ml/item_item.cc), factored to embeddings of rank
// embedding_dim: EASE^R (closed form, `lambda`) and time-decayed cosine item
// k-NN (`neighbors`, `half_life_days`). Catalogs up to kMaxItemItemItems.
inline constexpr int32_t kMaxItemItemItems = 30000;
std::unique_ptr<Model> NewEase();
std::unique_ptr<Model> NewItemKnn();
// item_knn's decay when none is given: the median user's time from their
// newest event to the newest of all, at least kMinDataHalfLifeDays, so that
// the typical user's history counts at least half. A shop whose customers
// come back weekly keeps 30 days; ratings gathered over 22 years (MovieLens,
// median user 11 years back) are hardly decayed, where 30 days left the
// model at popularity's level (docs/benchmarks.md).
inline constexpr double kMinDataHalfLifeDays = 30;
double DataHalfLifeDays(const Dataset& data);
// A weighted blend of other models' scores (ml/blend.h).
std::unique_ptr<Model> NewBlend();
std::unique_ptr<Model> NewModel(ModelType type);

}  // namespace embedrec::ml
