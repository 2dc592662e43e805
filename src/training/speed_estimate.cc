#include "training/speed_estimate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "ml/dataset.h"
#include "ml/model.h"

namespace embedrec::training {

double SpeedEstimate::Units(const JobRequest& r, int64_t pairs, int64_t items) {
  const double d = r.options.embedding_dim;
  const double p = static_cast<double>(std::max<int64_t>(pairs, 1));
  const double n = static_cast<double>(std::max<int64_t>(items, 1));
  using ml::ModelType;
  if (r.model_type == ModelType::kPopularity) return p;
  if (r.model_type == ModelType::kEase) return n * n * n / 3 + 8 * n * n * d;
  if (r.model_type == ModelType::kItemKnn) return n * n * (8 * d + 20);
  // ALS: every pair adds a rank-one update (d²) to its user's and its item's
  // system; every row solves a d × d system (Cholesky, d³/3). Rows are users
  // plus items; the users are not known here and are taken as many as the
  // items. Without the solves a small shop's timing (mostly solves) made a
  // large shop's epoch look 6.7 times longer than it was.
  if (r.model_type == ModelType::kAls) return p * d * d + n * (d * d * d / 3 + 2 * d * d);
  const double linear = p * d * (1 + 2.0 * r.options.num_layers) * (1 + 0.5 * r.options.negative_samples);
  if (r.model_type == ModelType::kBprMf) {
    // Each pair reads and writes random rows (weights and two Adam moments):
    // once the table outgrows the cache most of them miss. Measured per pair:
    // 0.5 µs at 150K interactions (an 11 MB table), 2.2 µs at 1.5M, 3.1 µs at
    // 15M (1.2 GB); the share of the table outside a ~32 MB cache explains
    // them within 10 % (users taken as many as the items, as for ALS).
    const double table_bytes = 2 * n * d * 4 * 3;
    const double missing = std::max(0.0, 1 - 32e6 / table_bytes);
    return linear * (1 + 4.7 * missing);
  }
  if (r.model_type != ModelType::kLightGcn || r.options.walks > 0) return linear;
  // LightGCN's exact step propagates over the batch's K-hop neighbourhood,
  // the whole graph once the data is not tiny: a step costs about the graph
  // (2 edges per pair, K layers, forward and backward: 4·K·pairs·d), and an
  // epoch has pairs / batch steps (~32 with the batch scaled to the data:
  // linear; a given small batch: quadratic).
  const double steps = p / r.options.BatchSizeFor(pairs, r.options.Propagates(ModelType::kLightGcn));
  const double graph = steps * 4.0 * r.options.num_layers * p * d;
  // The propagation gathers rows of the users' and items' tables at random:
  // the larger the tables, the more each gather costs. Measured per pair and
  // step (`embedrec train --threads 2`, scaled batch) relative to the
  // calibration's tables (5,000 rows, 1.28 MB): 1.13× at 2.6 MB, 1.69× at
  // 26 MB, 2.75× at 258 MB (the 150K, 1.5M and 15M shops' users and items);
  // 1 + 0.062·log2(size / 1.28 MB)^1.64 gives 1.06, 1.69 and 2.75. The size
  // is taken as 2 × items rows (users as many as items, as above).
  const double table_mb = 2 * n * d * 4 / 1e6;
  const double l = std::log2(std::max(1.0, table_mb / 1.28));
  return (linear + graph) * (1 + 0.062 * std::pow(l, 1.64));
}

namespace {
// Seconds per work unit measured on the 2-core reference machine (one
// synthetic epoch each, docs/benchmarks.md): what estimates use until this
// machine's own figure is known.
double DefaultSecondsPerUnit(ml::ModelType type) {
  switch (type) {
    case ml::ModelType::kLightGcn: return 3e-10;  // the calibration epoch: 0.093 s (scaled batch)
    case ml::ModelType::kBprMf: return 4e-9;
    case ml::ModelType::kAls: return 1.4e-10;  // 11.7 s per epoch of the 15M shop
    case ml::ModelType::kEase: return 5e-11;
    case ml::ModelType::kItemKnn: return 5.6e-11;
    case ml::ModelType::kPopularity: return 4e-9;
  }
  return 4e-9;
}
}  // namespace

SpeedEstimate::~SpeedEstimate() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (calibrator_.joinable()) calibrator_.join();
}

void SpeedEstimate::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return (to_time_.empty() && !timing_) || stop_; });
}

size_t SpeedEstimate::Measured() const {
  std::lock_guard lock(mu_);
  return per_unit_.size();
}

std::optional<double> SpeedEstimate::Time(ml::ModelType model_type) const {
  // One epoch of 2,000 users × 15 random items.
  std::mt19937_64 rng(7);
  std::vector<ml::Interaction> pairs;
  for (int32_t u = 0; u < 2000; ++u) {
    for (int k = 0; k < 15; ++k) pairs.push_back({u, static_cast<int32_t>(rng() % 3000), 1.0f, 0});
  }
  ml::Dataset data = ml::MakeDataset(std::move(pairs), {});
  auto model = ml::NewModel(model_type);
  if (!model) return std::nullopt;
  JobRequest r;
  r.model_type = model_type;
  ml::TrainOptions o = r.options;
  o.epochs = 1;
  o.eval_every = 0;
  o.patience = 0;
  o.threads = threads_;
  auto t0 = std::chrono::steady_clock::now();
  Status s = model->Fit(data, o, nullptr);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) return std::nullopt;
  return seconds / Units(r, data.train.size(), data.n_items);
}

void SpeedEstimate::Calibrate() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !to_time_.empty(); });
    if (stop_) return;
    const ml::ModelType type = to_time_.front();
    to_time_.erase(to_time_.begin());
    if (per_unit_.count(type)) continue;  // a job measured it meanwhile
    timing_ = true;
    lock.unlock();
    auto per_unit = Time(type);
    lock.lock();
    timing_ = false;
    if (per_unit) per_unit_.try_emplace(type, *per_unit);
    cv_.notify_all();
  }
}

double SpeedEstimate::SecondsPerUnit(const JobRequest& r) {
  // "auto" (no type yet): as LightGCN, the search's reference.
  const ml::ModelType type = r.model_type.value_or(ml::ModelType::kLightGcn);
  std::lock_guard lock(mu_);
  auto it = per_unit_.find(type);
  if (it != per_unit_.end()) return it->second;
  if (queued_.insert(type).second && !stop_) {
    to_time_.push_back(type);
    if (!calibrator_.joinable()) calibrator_ = std::thread([this] { Calibrate(); });
    cv_.notify_all();
  }
  return DefaultSecondsPerUnit(type);
}

double SpeedEstimate::EpochSeconds(const JobRequest& r, int64_t pairs, int64_t items) {
  return SecondsPerUnit(r) * Units(r, pairs, items);
}

double SpeedEstimate::FitSeconds(const JobRequest& r, int64_t pairs, int64_t items) {
  // The validated fit learns from the training split only.
  const auto fit_pairs = static_cast<int64_t>(static_cast<double>(pairs) * (1 - r.validation_split));
  const double epoch = EpochSeconds(r, fit_pairs, items);
  const int epochs = r.options.epochs;
  const int evals = r.validation_split > 0 ? epochs / std::max(1, r.options.eval_every) + 1 : 0;
  // An evaluation scores every user against every item: about an epoch's
  // work on small catalogs (measured on the benchmark data sets: 0.2 to 0.3
  // epochs on gowalla-shop, 0.1 on Gowalla).
  return epoch * (epochs + 0.3 * evals);
}

double SpeedEstimate::JobSeconds(const JobRequest& r, int64_t pairs, int64_t items) {
  // With a validation split the chosen model is refit on all the data: up
  // to as many epochs again, on every pair.
  const double refit = r.validation_split > 0 ? r.options.epochs * EpochSeconds(r, pairs, items) : 0;
  return FitSeconds(r, pairs, items) + refit + 0.5;  // + loading, index and deploy
}

void SpeedEstimate::Record(const JobRequest& r, int64_t pairs, int64_t items, double seconds_per_epoch) {
  if (!(seconds_per_epoch > 0)) return;
  const double measured = seconds_per_epoch / Units(r, pairs, items);
  if (!r.model_type) return;
  std::lock_guard lock(mu_);
  auto [it, fresh] = per_unit_.try_emplace(*r.model_type, measured);
  if (!fresh) it->second = 0.5 * it->second + 0.5 * measured;
}

}  // namespace embedrec::training
