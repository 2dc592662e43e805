#include "training/job_runner.h"

#include "ml/blend.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>

#include "ann/item_index.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "ml/calibration.h"
#include "ml/evaluator.h"
#include "ml/recency.h"
#include "ml/reranker.h"
#include "ml/similar_items.h"
#include "training/auto_search.h"
#include "training/deploy_policy.h"
#include "training/served_judgement.h"
#include "training/training_data.h"

namespace embedrec::training {
namespace json = boost::json;

namespace {

json::object MetricsJson(const ml::Metrics& m) {
  json::object o;
  for (const auto& [k, v] : m.values) o[k] = v;
  return o;
}

// Embeddings of `m` in the numbering of `data` (rows the model does not know stay zero).
ml::Metrics EvaluateDeployed(const ml::Dataset& data, const serving::ServingModel& m, const ml::UserItems& excluded,
                             StepAside* step_aside) {
  const int d = m.model->dim();
  std::vector<float> users(static_cast<size_t>(data.n_users) * d, 0.0f);
  std::vector<float> items(static_cast<size_t>(data.n_items) * d, 0.0f);
  const auto& ue = m.model->user_embeddings();
  const auto& ie = m.model->item_embeddings();
  for (int32_t u = 0; u < data.n_users; ++u) {
    auto it = m.user_rows.find(data.user_ids[u]);
    if (it != m.user_rows.end()) std::copy_n(ue.data() + it->second * d, d, users.data() + u * d);
  }
  for (int32_t i = 0; i < data.n_items; ++i) {
    auto it = m.item_rows.find(data.item_ids[i]);
    if (it != m.item_rows.end()) std::copy_n(ie.data() + it->second * d, d, items.data() + i * d);
  }
  return ml::Evaluate(data, users.data(), items.data(), d, kFinalKs, &excluded, step_aside);  // as the new model is judged
}

// The warm start of an incremental job: the deployed model's ego
// embeddings, mapped to the new data's numbering by id.
StatusOr<ml::WarmStart> WarmStartFrom(const ml::ModelArtifact& a, const ml::Dataset& data, int dim) {
  if (static_cast<int>(a.dim) != dim) {
    return Status::Unprocessable("incremental training keeps the deployed model's embedding_dim (" +
                                     std::to_string(a.dim) + "), not " + std::to_string(dim),
                                 {{"field", "hyperparameters.embedding_dim"}});
  }
  ml::WarmStart w;
  w.dim = dim;
  // Rows of `ids` found in the artifact's `from_ids` start from its `from` rows.
  auto fill = [dim](const std::vector<std::string>& from_ids, const std::vector<float>& from,
                    const std::vector<std::string>& ids, std::vector<float>* rows,
                    std::vector<uint8_t>* known) {
    rows->assign(ids.size() * dim, 0.0f);
    known->assign(ids.size(), 0);
    IdMap at;
    for (size_t r = 0; r < from_ids.size(); ++r) at.emplace(from_ids[r], r);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = at.find(ids[i]);
      if (it == at.end()) continue;
      std::copy_n(from.data() + it->second * dim, dim, rows->data() + i * dim);
      (*known)[i] = 1;
    }
  };
  fill(a.user_ids, a.user_ego.empty() ? a.user_emb : a.user_ego, data.user_ids, &w.users,
       &w.user_known);
  fill(a.item_ids, a.item_ego.empty() ? a.item_emb : a.item_ego, data.item_ids, &w.items,
       &w.item_known);
  return w;
}

// Popularity's metrics on the same split: the baseline every model must beat.
std::optional<ml::Metrics> PopularityBaseline(const ml::Dataset& data, const ml::TrainOptions& opt,
                                              const ml::UserItems& excluded, StepAside* step_aside) {
  if (data.test.size() == 0) return std::nullopt;
  auto pop = ml::NewPopularity();
  ml::TrainOptions p;
  p.half_life_days = opt.half_life_days;
  p.eval_every = 0;
  p.epochs = 1;
  if (!pop->Fit(data, p, nullptr).ok()) return std::nullopt;
  return ml::Evaluate(data, pop->user_embeddings().data(), pop->item_embeddings().data(), pop->dim(),
                      kFinalKs, &excluded, step_aside);  // as the models are judged
}

// What validation says of the trained model as it will be served: the
// recency check (do a user's newest events predict what comes next in this
// data? then serving steers known users by them, and what follows judges
// the steered vectors), the final metrics, the deployed model's figure for
// the gate, the score calibration, the reranker, and the lift over
// popularity (reranked figures when a reranker is kept).
struct Validation {
  json::object final_metrics;
  std::optional<double> ndcg;  // ndcg@10 as served
  std::optional<double> deployed_ndcg;
  bool deployed_ndcg_recorded = false;  // the deployed model's own validation figure (it was refit)
  double recent_share = 0;
  json::object recency;
  std::optional<ml::ScoreCalibration> calibration;
  std::string calibration_problem = "no validation split";
  std::optional<ml::RerankerFit> rerank;
  json::object lift;
  ml::SimilarShareFit similar;  // how much of an item's similar items its category's bestsellers take
};

// Whether the model's fold-in ranks an item's neighbours (an item-to-item
// model, or a blend with one): serving's ServingModel::item_to_item.
bool FoldsInNeighbours(const ml::Model& model, ml::ModelType type) {
  if (ml::IsItemToItem(type)) return true;
  if (type != ml::ModelType::kBlend) return false;
  auto a = model.Export();
  return a.ok() && ml::BlendHasItemToItem(a->params_json);
}

Validation Validate(const ml::Dataset& data, const ml::Model& model, ml::ModelType model_type, uint64_t seed,
                    bool rerank_asked, const ml::UserItems& excluded,
                    const std::vector<int32_t>& item_categories,
                    const std::optional<ml::Metrics>& baseline, const store::ModelVersionRecord* deployed_record,
                    const serving::ServingModel* deployed,
                    const std::function<void(const ml::RerankerFit&)>& on_rerank,
                    std::optional<ServedJudgement> judged, StepAside* step_aside) {
  Validation v;
  std::optional<ServedJudgement> j;
  if (data.test.size() > 0) {
    j = judged ? std::move(judged)
               : JudgeAsServed(data, model, model_type,
                               {kFinalKs, rerank_asked, &item_categories, seed, &excluded, step_aside});
    if (j->steered_ndcg) {
      v.recent_share = j->recent_share;
      v.recency = json::object{{"ndcg@10", j->plain_ndcg}, {"steered_ndcg@10", *j->steered_ndcg},
                               {"recent_events_share", v.recent_share}};
    }
    const ml::Metrics& m = j->metrics;
    v.final_metrics = MetricsJson(m);
    v.final_metrics["evaluated_users"] = m.users;
    if (!m.std_errors.empty()) {
      // A sample of the validation users (training_data.cc): each figure's standard error.
      v.final_metrics["validation_users"] = m.population;
      json::object se;
      for (const auto& [k, x] : m.std_errors) se[k] = x;
      v.final_metrics["std_errors"] = std::move(se);
    }
    v.ndcg = j->ndcg;
    v.rerank = j->rerank;
    if (v.rerank && on_rerank) on_rerank(*v.rerank);
    // A deployed model refit on all data has seen this split's pairs: it is
    // compared by the validation figure recorded when it was trained.
    if (deployed_record && deployed) {
      boost::system::error_code ec;
      json::value old = json::parse(deployed_record->metrics_json, ec);
      const json::object* o = ec ? nullptr : old.if_object();
      if (o && o->contains("refit") && o->at("refit").is_bool() && o->at("refit").as_bool()) {
        const json::value* n = o->if_contains("served_ndcg@10");  // reranked, when it was
        if (!n || !n->is_number()) n = o->if_contains("ndcg@10");
        if (n && n->is_number()) v.deployed_ndcg = n->to_number<double>();
        v.deployed_ndcg_recorded = true;
      } else {
        v.deployed_ndcg = EvaluateDeployed(data, *deployed, excluded, step_aside).Get("ndcg@10");
      }
    }
    // Scores as probabilities, fitted on the same held-out pairs: on what
    // users are shown (their 20 best, viewed items among them where serving
    // shows them), over up to 2,000 users, against each user's next choice
    // (their earliest held-out item). The job reports that precision
    // (`next_choice_precision@10`) beside the 20 % split's own.
    if (model.user_embeddings().size() > 0) {
      // Serving reorders its candidates (seen items among them) by the
      // reranker where one is kept: the calibration measures its gain on
      // those lists. (Measured on the split's unseen-only lists, as before,
      // it missed that the reranker also moves seen items down: on a dense
      // generated shop the model's 10 best held 6.4 seen items, the served
      // 10 3.9.)
      auto fit = ml::FitScoreCalibration(
          data, j->users(model), model.item_embeddings().data(), model.dim(),
          {.seed = seed, .max_users = 2000, .top_k = 20, .never_shown = &excluded,
           .one_choice_per_user = true, .reranker = v.rerank && v.rerank->reranker ? &*v.rerank->reranker : nullptr,
           .item_category = &item_categories, .step_aside = step_aside});
      if (fit.ok()) {
        v.calibration = *fit;
        v.final_metrics["next_choice_precision@10"] = v.calibration->precision_at_10;
      }
      else v.calibration_problem = fit.status().message();
    }
    // Similar items: the share of an item's list its category's bestsellers
    // take (ml/similar_items.h), on the same split.
    v.similar = ml::FitSimilarCategoryShare(data, model, FoldsInNeighbours(model, model_type), item_categories,
                                            ml::kSimilarShareUsers, step_aside);
  }
  const double hit = j ? j->hit_rate : 0;
  // The lift over popularity on the same split.
  if (baseline && v.ndcg) {
    const double pop_ndcg = baseline->Get("ndcg@10"), pop_hit = baseline->Get("hit_rate@20");
    v.lift = json::object{{"baseline", "popularity"},
                          {"popularity_ndcg@10", pop_ndcg},
                          {"popularity_hit_rate@20", pop_hit},
                          {"ndcg@10", pop_ndcg > 0 ? json::value(*v.ndcg / pop_ndcg) : json::value(nullptr)},
                          {"hit_rate@20", pop_hit > 0 ? json::value(hit / pop_hit) : json::value(nullptr)}};
  }
  return v;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The similar items' figures in the record: hit@20 of each share tried.
json::object SimilarJson(const ml::SimilarShareFit& f) {
  auto key = [](double x) {  // "0", "0.25", …, "1"
    std::string t = std::to_string(x);
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
    return t;
  };
  json::object hits;
  for (size_t s = 0; s < f.hit_at.size(); ++s) hits[key(ml::kSimilarCategoryShares[s])] = f.hit_at[s];
  return json::object{{"category_share", f.share}, {"users", f.users}, {"hit@20_by_category_share", std::move(hits)}};
}

using store::JobStatus;

// The document's status and progress at a stage's start.
void SetStatus(const JobContext& ctx, JobStatus status, double progress) {
  ctx.update([&](json::object& d) {
    d["status"] = store::JobStatusName(status);
    d["progress"] = progress;
    d.erase("phase");
  }, true);
}

bool Cancelled(const JobContext& ctx) { return ctx.cancel && ctx.cancel->load(); }

// The seconds each step of a job took, as the record's `phase_seconds`
// says them and the speed estimate learns from them.
class StepTimes {
 public:
  // `aside` (null: none): the job's, whose pauses the learned steps leave out.
  explicit StepTimes(const StepAside* aside) : aside_(aside), paused_(PausedSeconds(aside)) {}
  // The step that ends now began where the last one ended.
  void End(double JobSteps::*step) {
    const auto now = std::chrono::steady_clock::now();
    const double paused = PausedSeconds(aside_);
    took_.*step = std::chrono::duration<double>(now - last_).count();
    learned_.*step = std::max(0.0, took_.*step - (paused - paused_));
    last_ = now;
    paused_ = paused;
  }
  const JobSteps& took() const { return took_; }  // as they ran
  // Without the time the job stood aside for requests: what the speed estimate learns.
  const JobSteps& learned() const { return learned_; }

 private:
  const StepAside* aside_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  double paused_;
  JobSteps took_, learned_;
};

// Where a job starts from: the deployed version (the incremental starting
// point and the gate's baseline), and what it trains.
struct Start {
  std::vector<store::ModelVersionRecord> versions;
  const store::ModelVersionRecord* deployed_record = nullptr;  // into `versions`
  std::shared_ptr<const serving::ServingModel> deployed;
  bool incremental = false;
  JobRequest run;  // an incremental job continues the deployed model's type (auto: whichever it is)
  ml::WarmStart warm;
};

StatusOr<std::unique_ptr<Start>> StartFrom(const JobContext& ctx, const JobEnv& env, const ml::Dataset& data) {
  const JobRequest& req = *ctx.request;
  auto st = std::make_unique<Start>();
  ASSIGN_OR_RETURN(st->versions, env.store->training().ListVersions());
  for (const auto& v : st->versions) {
    if (v.status == store::VersionStatus::kDeployed) st->deployed_record = &v;
  }
  st->deployed = env.deployed->Get(ctx.tenant_id);
  st->incremental = req.mode == "incremental";
  st->run = req;
  if (!st->incremental) return st;
  if (!st->deployed_record) {
    return Status::Unprocessable("incremental training needs a deployed model; train in full mode first",
                                 {{"field", "training_mode"}});
  }
  const auto deployed_type = ml::ParseModelType(st->deployed_record->model_type);
  if (!deployed_type) {
    return Status::FailedPrecondition("the deployed model's type '" + st->deployed_record->model_type +
                                      "' is unknown to this version");
  }
  if (*deployed_type == ml::ModelType::kBlend) {
    return Status::Unprocessable("incremental training cannot continue the deployed blend of models; train in full mode",
                                 {{"field", "training_mode"}});
  }
  if (!req.model_type) st->run = RequestForType(req, *deployed_type);  // auto: continue the deployed type
  if (*deployed_type != st->run.model_type) {
    return Status::Unprocessable("incremental training continues the deployed " +
                                     st->deployed_record->model_type + " model, not " +
                                     std::string(ModelChoiceName(st->run.model_type)),
                                 {{"field", "model_type"}});
  }
  ASSIGN_OR_RETURN(auto artifact, env.registry->ReadArtifact(ctx.tenant_id, *st->deployed_record));
  ASSIGN_OR_RETURN(st->warm, WarmStartFrom(artifact, data, st->run.options.embedding_dim));
  return st;
}

// The trained model, with its type and settings (auto: the best trial's).
struct Fitted {
  JobRequest chosen;
  std::shared_ptr<ml::Model> model;
  double train_seconds = 0;  // with the validations
  double eval_seconds = 0;   // the validations alone
  int evaluations = 0;
  int epochs_run = 0;
  int best_epoch = 0;  // the validated fit's (its model's; the refit trains its own)
  // The search's judgement of the chosen model (auto): validation reuses it
  // instead of judging the same model on the same split again (1-2.5 s).
  std::optional<ServedJudgement> judgement;
  // Whether the refit continues the validated model (RefitContinues): it
  // then trains half the best epoch's count from it instead of all of them
  // anew. Measured through the API with the search's LightGCN recipe (lr
  // 0.01; docs/benchmarks.md), hit@20 0.2539 and 0.2629 against 0.2551 for
  // the refit anew on the generated shop, 0.2580 (a fit that ran all its
  // epochs) and 0.2510 against 0.2600 on gowalla-shop, 0.3140 and 0.3110
  // against 0.3170 on the electronics shop (within noise), in half the
  // refit's time. A quarter of the epochs lost (0.2461, 0.2320, 0.3050); so
  // did continuing the seed's request (lr 0.001, its best at its last
  // epoch: 0.2112 against 0.2281, 0.1940 against 0.2260), which needs the
  // whole refit; BPR-MF's refit, cheap, gained no time (its score matching
  // is most of it) and lost 0.025 once. (Those refits, through a fault found
  // in the twenty-ninth session, started anew for half the epochs: the
  // validated model's rows were looked up by ids its export did not have.)
  bool RefitContinues() const { return training::RefitContinues(chosen) && best_epoch > 0; }
  // The epochs the refit on all data trains: the fit's best (else all it
  // ran), or half of them continued.
  int RefitEpochs() const {
    const int best = std::max(1, best_epoch > 0 ? best_epoch : epochs_run);
    return RefitContinues() ? training::RefitEpochs(chosen, best) : best;
  }
};

// The seconds a job has left after its fit of `chosen` (which ran `epochs`;
// 0: not known yet): validation (only its calibration when the search
// judged the model: `judged`), the refit when there is one (the epochs the
// fit chose, at the speed this job measured), the index and storing.
double AfterFitSeconds(const JobEnv& env, const JobRequest& chosen, const DataShape& shape, bool will_refit,
                       int epochs, bool judged = false) {
  JobSteps after = env.speed->OtherSteps(chosen, shape);
  if (judged) after.validation = env.speed->CalibrationSeconds(chosen, shape);
  after.refit = !will_refit ? 0
                : epochs > 0 ? epochs * env.speed->EpochSeconds(chosen, shape)
                             : env.speed->RefitSeconds(chosen, shape);
  return after.AfterFit();
}

// The fit's curve, kept in the record (a page that opens the job late, or
// misses progress events of a fast one, still draws it whole): one point per
// epoch, {epoch, train_loss, val_ndcg@10 where validated, part for a blend's}. Past kCurvePoints
// every other point goes (the first, the last and, while they are at most
// half the points, the validated ones stay), so a long time-budgeted fit
// keeps its shape at a bounded size.
void AddCurvePoint(json::object& d, const ml::EpochReport& r, int part) {
  constexpr size_t kCurvePoints = 400;
  if (!d["curve"].is_array()) d["curve"] = json::array();
  auto& curve = d["curve"].as_array();
  json::object p{{"epoch", r.epoch}, {"train_loss", r.loss}};
  if (part > 0) p["part"] = part;  // a blend's parts, each from its epoch 1
  if (r.metrics) p["val_ndcg@10"] = r.metrics->Get("ndcg@10");
  curve.push_back(std::move(p));
  if (curve.size() <= kCurvePoints) return;
  auto validated = [&](size_t i) { return curve[i].as_object().contains("val_ndcg@10"); };
  size_t validated_points = 0;
  for (size_t i = 0; i < curve.size(); ++i) validated_points += validated(i);
  const bool keep_validated = 2 * validated_points <= kCurvePoints;
  json::array kept;
  for (size_t i = 0; i < curve.size(); ++i) {
    if (i % 2 == 0 || i + 1 == curve.size() || (keep_validated && validated(i))) kept.push_back(std::move(curve[i]));
  }
  curve = std::move(kept);
}

void SetCompletion(json::object& d, const JobEnv& env, double seconds_left) {
  d["estimated_completion"] =
      FormatRfc3339((env.clock->NowMillis() + static_cast<int64_t>(1000 * (std::max(0.0, seconds_left) + 1))) / 1000);
}

// Where one fit's progress goes in the job's: from `from` over `share`,
// `after_fit` seconds expected after it; `part` (from 1) when it fits a
// blend's part (0: the job's one model).
struct FitSlot {
  double from = 0.05, share = 0.85, after_fit = 0;
  int part = 0;
};

// One model fitted on `data`, reporting every epoch (progress, the loss
// curve, validations, the estimate of what is left).
StatusOr<Fitted> FitOne(const JobContext& ctx, const JobEnv& env, const JobRequest& run, const ml::WarmStart* warm,
                        const ml::Dataset& data, const std::optional<ml::Metrics>& baseline, const FitSlot& slot) {
  Fitted out;
  out.chosen = run;
  ml::TrainOptions opt = run.options;
  opt.cancel = ctx.cancel;
  opt.step_aside = ctx.step_aside;
  opt.threads = ctx.threads;
  opt.warm_start = warm;
  // A time budget: the fit takes its share and keeps its best evaluated
  // epoch; the refit (as many epochs, on all the data) the rest.
  if (ml::IsGradientTrained(*run.model_type) && run.time_budget_seconds > 0) {
    opt.time_budget_seconds = run.time_budget_seconds * (data.test.size() > 0 ? JobRequest::kFitShareOfBudget : 1.0);
    if (slot.part == 0) ctx.update([&](json::object& d) { d["time_budget_seconds"] = run.time_budget_seconds; }, false);
  }
  out.model = ml::NewModel(*run.model_type);
  double epoch_seconds = 0;  // without the validations, nor the time stood aside for requests
  bool out_of_time = false;
  const auto fit_start = std::chrono::steady_clock::now();
  auto last_persist = fit_start;
  RETURN_IF_ERROR(out.model->Fit(data, opt, [&](const ml::EpochReport& r) {
    out.train_seconds += r.seconds + r.eval_seconds;
    epoch_seconds += r.seconds - r.paused_seconds;
    out.eval_seconds += r.eval_seconds;
    out.evaluations += r.metrics.has_value();
    out_of_time = r.out_of_time;
    out.epochs_run = r.epoch;
    const double per_epoch = out.train_seconds / r.epoch;
    int left = std::max(0, opt.epochs - r.epoch);
    // Done: by epochs, or by the budget's share of time, whichever comes first.
    double done = static_cast<double>(r.epoch) / opt.epochs;
    if (opt.time_budget_seconds > 0) {
      done = std::max(done, std::min(1.0, Seconds(fit_start) / opt.time_budget_seconds));
      left = std::min(left, static_cast<int>(std::ceil(std::max(0.0, opt.time_budget_seconds - Seconds(fit_start)) /
                                                       std::max(per_epoch, 1e-9))));
    }
    const bool persist = r.metrics.has_value() || Seconds(last_persist) > 2;
    if (persist) last_persist = std::chrono::steady_clock::now();
    ctx.update([&](json::object& d) {
      d["current_epoch"] = r.epoch;
      if (slot.part > 0) d["blend_part"] = slot.part;
      d["progress"] = slot.from + slot.share * done;
      if (!d["metrics"].is_object()) d["metrics"] = json::object();
      auto& m = d["metrics"].as_object();
      if (run.model_type != ml::ModelType::kPopularity) {
        m["train_loss"] = r.loss;
        AddCurvePoint(d, r, slot.part);
      }
      if (r.metrics) {
        m["val_ndcg@10"] = r.metrics->Get("ndcg@10");
        m["val_recall@20"] = r.metrics->Get("recall@20");
        m["val_hit_rate@20"] = r.metrics->Get("hit_rate@20");
        if (baseline && baseline->Get("ndcg@10") > 0) {
          m["lift_ndcg@10"] = r.metrics->Get("ndcg@10") / baseline->Get("ndcg@10");
        }
      }
      SetCompletion(d, env, left * per_epoch + slot.after_fit);
    }, persist);
  }));
  if (out.epochs_run > 0 && epoch_seconds > 0) {
    env.speed->Record(run, EpochData(data), epoch_seconds / out.epochs_run);
  }
  out.best_epoch = out.model->best_epoch();
  env.speed->RecordEpochs(run, out.epochs_run, out.best_epoch);
  if (out_of_time && out.epochs_run < opt.epochs) {
    ctx.update([&](json::object& d) { d["fit_stopped_by"] = "time_budget"; }, true);
  }
  return out;
}

// A blend a request named: each part fitted in turn as its own request
// would be (its validations choosing its epochs), then blended with the
// request's weights; the refit fits each part again (Refit), the epochs its
// fit chose.
StatusOr<Fitted> FitBlend(const JobContext& ctx, const JobEnv& env, const JobRequest& run, const ml::Dataset& data,
                          const DataShape& shape, const std::optional<ml::Metrics>& baseline, double fit_share) {
  const bool will_refit = data.test.size() > 0;
  const size_t n = run.blend_parts.size();
  double fits_left = 0;
  for (const JobRequest& part : run.blend_parts) fits_left += env.speed->FitSeconds(part, shape);
  Fitted out;
  std::vector<std::shared_ptr<const ml::Model>> models;
  auto spec = std::make_shared<ml::BlendSpec>();
  for (size_t k = 0; k < n; ++k) {
    const JobRequest& part = run.blend_parts[k];
    fits_left -= env.speed->FitSeconds(part, shape);
    const FitSlot slot{0.05 + fit_share * static_cast<double>(k) / static_cast<double>(n),
                       fit_share / static_cast<double>(n),
                       std::max(0.0, fits_left) + AfterFitSeconds(env, run, shape, will_refit, 0), static_cast<int>(k + 1)};
    ASSIGN_OR_RETURN(Fitted f, FitOne(ctx, env, part, nullptr, data, baseline, slot));
    if (Cancelled(ctx)) return ml::CancelledStatus();
    out.train_seconds += f.train_seconds;
    out.eval_seconds += f.eval_seconds;
    out.evaluations += f.evaluations;
    spec->parts.push_back(RefitPart(part, f.best_epoch > 0 ? f.best_epoch : f.epochs_run, run.blend_weights[k], f.model));
    models.push_back(std::move(f.model));
  }
  ASSIGN_OR_RETURN(auto blend, ml::BlendOf(models, spec->parts, data));
  out.model = std::move(blend);
  out.chosen = run;
  out.chosen.options.blend = std::move(spec);  // the parts as their refit trains them
  out.chosen.blend_parts.clear();              // (the request's, as asked, stay in the job's request)
  out.chosen.blend_weights.clear();
  out.epochs_run = out.best_epoch = 1;
  const double left = AfterFitSeconds(env, out.chosen, shape, will_refit, 0);
  ctx.update([&](json::object& d) { SetCompletion(d, env, left); }, true);
  return out;
}

// Step 2: the search's trials (auto), or one fit reporting every epoch.
StatusOr<Fitted> FitModel(const JobContext& ctx, const JobEnv& env, const Start& st, const ml::Dataset& data,
                          const std::vector<int32_t>& item_categories, const ml::UserItems& excluded,
                          const DataShape& shape, const std::optional<ml::Metrics>& baseline, double fit_share) {
  const JobRequest& run = st.run;
  Fitted out;
  out.chosen = run;
  if (!run.model_type) {
    if (data.test.size() == 0) {
      return Status::Unprocessable("model_type auto chooses on a validation split; validation_split must be > 0",
                                   {{"field", "hyperparameters.validation_split"}});
    }
    // After the search: the steps the estimate at submission expects (the
    // chosen model is not known yet: the planned trials' mean refit).
    const double after_search = AutoJobSteps(*ctx.request, shape, *env.speed).AfterFit();
    SearchEnv senv{env.speed, ctx.cancel, ctx.threads,
                   [&](const json::array& trials, double used, double seconds_left) {
                     ctx.update([&](json::object& d) {
                       d["trials"] = trials;
                       d["progress"] = 0.05 + fit_share * used;
                       SetCompletion(d, env, seconds_left + after_search);
                     }, true);
                   }};
    senv.shape = shape;
    senv.step_aside = ctx.step_aside;
    senv.item_categories = &item_categories;
    senv.excluded = &excluded;
    ASSIGN_OR_RETURN(SearchResult search, RunSearch(*ctx.request, data, senv));
    out.model = std::move(search.best);
    out.judgement = std::move(search.judgement);
    out.chosen = search.chosen;
    out.epochs_run = search.epochs_run;
    out.best_epoch = out.model->best_epoch();
    out.train_seconds = search.train_seconds;
    // What is left is now the chosen model's: its refit, not the mean of
    // every trial's the estimate at submission took.
    const double left =
        AfterFitSeconds(env, out.chosen, shape, data.test.size() > 0, out.RefitEpochs(), out.judgement.has_value());
    ctx.update([&](json::object& d) {
      d["trials"] = search.trials;
      d["time_budget_seconds"] = search.budget_seconds;
      d["search_seconds"] = search.search_seconds;
      d["chosen_model_type"] = ModelChoiceName(out.chosen.model_type);
      d["chosen_hyperparameters"] = HyperparametersJson(out.chosen);
      SetCompletion(d, env, left);
    }, true);
    return out;
  }
  if (run.model_type == ml::ModelType::kBlend) return FitBlend(ctx, env, run, data, shape, baseline, fit_share);
  // The steps after the fit, their refit as the estimate expects it.
  const FitSlot slot{0.05, fit_share, AfterFitSeconds(env, run, shape, data.test.size() > 0, 0), 0};
  ASSIGN_OR_RETURN(out, FitOne(ctx, env, run, st.incremental ? &st.warm : nullptr, data, baseline, slot));
  const double left = AfterFitSeconds(env, run, shape, data.test.size() > 0, out.RefitEpochs());
  ctx.update([&](json::object& d) { SetCompletion(d, env, left); }, true);
  return out;
}

// Step 3b: the validated model learned without each user's latest items,
// the best signal of what comes next: the served model is refit on all the
// data with the chosen settings (the epochs validation chose), and its
// scores brought back to the precision@10 validation measured. Returns what
// the job record says of it.
StatusOr<std::string> Refit(const JobContext& ctx, const JobEnv& env, const DataShape& shape, Fitted& fitted,
                            const ml::Dataset& all, Validation& val, const ServedMask& served) {
  ctx.update([&](json::object& d) {
    d["status"] = store::JobStatusName(JobStatus::kTraining);
    d["phase"] = "refit";
    d["progress"] = 0.62;
  }, true);
  ml::TrainOptions ropt = fitted.chosen.options;
  ropt.cancel = ctx.cancel;
  ropt.step_aside = ctx.step_aside;
  ropt.threads = ctx.threads;
  const bool blend = fitted.chosen.model_type == ml::ModelType::kBlend && ropt.blend;
  // A blend's parts are fitted anew, each its chosen epochs: one step each.
  ropt.epochs = blend ? static_cast<int>(ropt.blend->parts.size()) : fitted.RefitEpochs();
  ropt.eval_every = 0;
  ropt.patience = 0;
  auto full = ml::NewModel(*fitted.chosen.model_type);
  ml::WarmStart warm;
  if (fitted.RefitContinues()) {
    ASSIGN_OR_RETURN(auto validated, fitted.model->Export());
    // Its rows by id: the split numbers users and items as `all` does
    // (training_data.h's AllData). (An export has no ids: before, no row was
    // known and the "continued" refit started anew.)
    validated.user_ids = all.user_ids;
    validated.item_ids = all.item_ids;
    ASSIGN_OR_RETURN(warm, WarmStartFrom(validated, all, ropt.embedding_dim));
    ropt.warm_start = &warm;
  }
  const JobSteps other = env.speed->OtherSteps(fitted.chosen, shape);
  double refit_seconds = 0;
  RETURN_IF_ERROR(full->Fit(all, ropt, [&](const ml::EpochReport& r) {
    refit_seconds += r.seconds;
    ctx.update([&](json::object& d) {
      d["progress"] = 0.62 + 0.28 * r.epoch / ropt.epochs;
      d["refit_epoch"] = r.epoch;
      SetCompletion(d, env, refit_seconds / r.epoch * (ropt.epochs - r.epoch) + other.index + other.storing);
    }, false);
  }));
  if (Cancelled(ctx)) return ml::CancelledStatus();
  fitted.model = std::move(full);
  // The refit model's inner products grew with the data it saw: its scores
  // are brought back to the precision@10 the calibration measured on the
  // lists as served with one next choice per user (final_metrics'
  // next_choice_precision@10). (The twenty-third session matched the 20 %
  // split's precision@10 instead: 1.75-3× the withheld-last-purchase
  // protocol's precision on the generated shop, MovieLens and gowalla-shop,
  // whose users hold out several items in validation and one there.
  // Tried and not kept, twenty-seventh session: the refit without the last
  // choice of a quarter of the users, the scores fitted on those, then the
  // choices put back: no closer on that protocol (0.72-1.03 on the shops;
  // this calibration, with the reranker's gain measured as served,
  // 0.85-1.03), a second fit, and LightGCN's continuation on everything
  // lost 13-25 % of hit@20.)
  if (val.calibration && val.calibration->precision_at_10 > 0) {
    const ml::Model& model = *fitted.model;
    const ml::UserItems never_shown = served.For(all);
    const auto steered =
        val.recent_share > 0 ? ml::SteeredUserVectors(all, model, val.recent_share) : std::vector<float>();
    (void)ml::MatchMeanScoreAtTen(all, steered.empty() ? model.user_embeddings().data() : steered.data(),
                                  model.item_embeddings().data(), model.dim(), val.calibration->precision_at_10,
                                  &*val.calibration, 2000, &never_shown);
  }
  if (fitted.RefitContinues()) {
    auto known = [](const std::vector<uint8_t>& k) { return std::to_string(std::count(k.begin(), k.end(), 1)); };
    return "refit on all data: " + std::to_string(ropt.epochs) +
           " epochs continuing the validated model (half its best, epoch " + std::to_string(fitted.best_epoch) +
           " of the " + std::to_string(fitted.epochs_run) + " it ran; its rows for " + known(warm.user_known) +
           " of " + std::to_string(warm.user_known.size()) + " users and " + known(warm.item_known) + " of " +
           std::to_string(warm.item_known.size()) + " items)";
  }
  if (blend) {
    std::string parts;
    for (const ml::BlendPart& p : ropt.blend->parts) {
      parts += std::string(parts.empty() ? "" : ", ") + std::string(ml::ModelTypeName(p.type)) + " " +
               std::to_string(p.options.epochs) + (p.options.epochs == 1 ? " epoch" : " epochs") +
               (p.continue_from ? " continuing its validated fit (half its best)" : " anew (its validated fit's best)");
    }
    return "refit on all data: each part of the blend (" + parts + ")";
  }
  return "refit on all data: " + std::to_string(ropt.epochs) + " epochs (validation's best)";
}

// Step 5's outcome.
struct Stored {
  store::ModelVersionRecord version;
  std::string deployment_status, reason;  // deployed | standby | experiment | failed
  std::string experiment_id;              // when it entered one
  json::object index_json;
};

// Step 5: the version stored (model file with its metadata, index, record),
// then deployed if the gate lets it; retention.
StatusOr<Stored> StoreAndDeploy(const JobContext& ctx, const JobEnv& env, const Start& st, const Fitted& fitted,
                                const ml::Dataset& final_data, const Validation& val, const ann::ItemIndex& index,
                                const std::string& index_bytes, const std::optional<ml::Metrics>& baseline,
                                const std::string& refit, bool refitted) {
  if (ctx.still_ours) RETURN_IF_ERROR(ctx.still_ours());  // fenced: nothing stored by a job another node took
  const JobRequest& req = *ctx.request;
  const ml::Model& model = *fitted.model;
  Stored out;
  store::ModelVersionRecord& v = out.version;
  ASSIGN_OR_RETURN(v, env.registry->NextVersion(*env.store, st.incremental,
                                                st.deployed_record ? st.deployed_record->major : 0));
  ASSIGN_OR_RETURN(ml::ModelArtifact artifact, model.Export());
  artifact.user_ids = final_data.user_ids;
  artifact.item_ids = final_data.item_ids;
  artifact.history_offsets = final_data.train.offsets;
  artifact.history_items = final_data.train.items;
  json::object hyper = HyperparametersJson(fitted.chosen);
  out.index_json = json::object{{"kind", index.kind()}, {"params", json::parse(index.params_json())}};
  artifact.metadata_json = JsonText(json::object{
      {"version", v.version}, {"job_id", ctx.job_id}, {"tenant_id", ctx.tenant_id},
      {"training_mode", req.mode}, {"hyperparameters", hyper}, {"metrics", val.final_metrics},
      {"best_epoch", fitted.best_epoch}, {"epochs_run", fitted.epochs_run},
      {"score_calibration", val.calibration ? json::value(val.calibration->ToJson()) : json::value(nullptr)},
      {"refit", refit}, {"lift", val.lift}, {"recent_events_share", val.recent_share},
      {"similar_category_share", val.similar.share},
      {"reranker", val.rerank && val.rerank->reranker ? json::value(val.rerank->reranker->ToJson()) : json::value(nullptr)}});
  v.model_type = ModelChoiceName(fitted.chosen.model_type);
  v.job_id = ctx.job_id;
  json::object stored_metrics = val.final_metrics;
  if (!val.lift.empty()) stored_metrics["lift"] = val.lift;
  if (!val.recency.empty()) stored_metrics["recency"] = val.recency;
  if (val.similar.users > 0) stored_metrics["similar_items"] = SimilarJson(val.similar);
  if (val.rerank) stored_metrics["rerank"] = val.rerank->ToJson();
  stored_metrics["refit"] = refitted;
  if (val.ndcg) stored_metrics["served_ndcg@10"] = *val.ndcg;
  if (val.deployed_ndcg) stored_metrics["deployed_ndcg@10_same_split"] = *val.deployed_ndcg;
  v.metrics_json = JsonText(stored_metrics);
  v.params_json = JsonText(hyper);
  v.index_json = JsonText(out.index_json);
  GateInput gate{.auto_deploy = req.auto_deploy,
                 .tolerance = req.deploy_tolerance,
                 .incremental = st.incremental,
                 .is_popularity = fitted.chosen.model_type == ml::ModelType::kPopularity,
                 .ndcg = val.ndcg,
                 .popularity_ndcg = baseline ? std::optional<double>(baseline->Get("ndcg@10")) : std::nullopt,
                 .deployed_version = st.deployed_record ? std::optional<std::string>(st.deployed_record->version)
                                                        : std::nullopt,
                 .deployed_ndcg = val.deployed_ndcg,
                 .deployed_ndcg_recorded = val.deployed_ndcg_recorded};
  const GateDecision decision = env.policy ? env.policy->Decide(gate) : DeployPolicy().Decide(gate);
  out.deployment_status = decision.deploy ? "deployed" : "standby";
  out.reason = decision.reason;
  v.status = store::VersionStatus::kStandby;
  v.reason = decision.deploy ? "" : decision.reason;
  RETURN_IF_ERROR(env.registry->Store(ctx.tenant_id, *env.store, &v, artifact, index_bytes));
  bool deploy = decision.deploy;
  if (deploy && st.deployed_record && env.enter_experiment) {
    // A waiting experiment, or a scheduled run: the version is compared on
    // live traffic before it replaces the deployed one.
    auto entered = (*env.enter_experiment)(ctx.tenant_id, v.version, req.started_by == "system");
    if (!entered.ok()) {
      spdlog::warn("tenant {}: version {} could not enter an experiment ({}); deployed at once", ctx.tenant_id,
                   v.version, entered.status().ToString());
    } else if (*entered) {
      deploy = false;
      out.deployment_status = "experiment";
      out.reason = decision.reason + "; challenger of experiment " + **entered + " before it is deployed";
      out.experiment_id = **entered;
    }
  }
  if (deploy) {
    auto d = env.registry->Deploy(ctx.tenant_id, *env.store, v.version, decision.reason);
    if (!d.ok()) {
      out.deployment_status = "failed";
      out.reason = "deploy failed: " + d.status().message();
    }
  }
  (void)env.registry->ApplyRetention(ctx.tenant_id, *env.store);
  return out;
}

}  // namespace

Status RunJob(const JobContext& ctx, const JobEnv& env) {
  const JobRequest& req = *ctx.request;
  const auto started = std::chrono::steady_clock::now();
  StepTimes steps(ctx.step_aside);
  ctx.update([&](json::object& d) {
    d["status"] = store::JobStatusName(JobStatus::kLoadingData);
    d["progress"] = 0.01;
    d["started_at"] = FormatRfc3339Millis(env.clock->NowMillis());
  }, true);

  // 1. Data: the tenant's interactions, the validation split, and what a
  // model must beat: popularity on the same split.
  ASSIGN_OR_RETURN(TrainingData td, LoadTrainingData(*env.store, interactions::TypeWeights(req.interaction_weights),
                                                     req.exclusion, req.validation_split, req.options.seed));
  const ml::Dataset& data = td.data;
  // What serving never shows a user again: models and the baseline are judged without it.
  const ml::UserItems excluded = td.served.For(data);
  const std::optional<ml::Metrics> baseline = PopularityBaseline(data, req.options, excluded, ctx.step_aside);
  ctx.update([&](json::object& d) {
    d["data"] = json::object{{"users", data.n_users},
                             {"items", data.n_items},
                             {"training_pairs", data.train.size()},
                             {"validation_pairs", data.test.size()},
                             {"validation_target", td.validation_target},
                             // what validation leaves out of a user's ranking: what serving will
                             {"validation_excludes", serving::ExclusionName(td.served.exclusion)},
                             {"interactions", td.events}};
    if (baseline) {
      d["baseline"] = json::object{{"model_type", "popularity"},
                                   {"val_ndcg@10", baseline->Get("ndcg@10")},
                                   {"val_hit_rate@20", baseline->Get("hit_rate@20")},
                                   {"val_recall@20", baseline->Get("recall@20")}};
    }
  }, false);
  if (Cancelled(ctx)) return ml::CancelledStatus();
  ASSIGN_OR_RETURN(std::unique_ptr<Start> st, StartFrom(ctx, env, data));
  ResolveHalfLife(&st->run, data);
  if (req.model_type && st->run.model_type == req.model_type) {
    json::object resolved = HyperparametersJson(st->run);  // what the data decided (item_knn's half-life)
    if (resolved != HyperparametersJson(req)) ctx.update([&](json::object& d) { d["hyperparameters"] = resolved; }, false);
  }
  steps.End(&JobSteps::loading);

  // 2. Training. With a validation split the chosen model is refit on all
  // the data afterwards (3b): the first fit takes the first part of the progress.
  SetStatus(ctx, JobStatus::kTraining, 0.05);
  const bool will_refit = data.test.size() > 0;
  const double fit_share = will_refit ? 0.55 : 0.85;
  const DataShape shape = JobData(data, td.events);
  ASSIGN_OR_RETURN(Fitted fitted, FitModel(ctx, env, *st, data, td.item_categories, excluded, shape, baseline, fit_share));
  if (Cancelled(ctx)) return ml::CancelledStatus();
  steps.End(&JobSteps::fit);

  // 3. Evaluation on the validation split, of the new model and of the
  // deployed one (the same split: a fair comparison for the gate), with
  // what serving leaves out masked (`excluded`).
  SetStatus(ctx, JobStatus::kEvaluating, 0.05 + fit_share);
  const ServedMask served = std::move(td.served);  // kept: the refit consumes td
  const bool judged_by_search = fitted.judgement.has_value();
  Validation val = Validate(data, *fitted.model, *fitted.chosen.model_type, fitted.chosen.options.seed, req.rerank,
                            excluded, td.item_categories, baseline, st->deployed_record,
                            st->deployed.get(), [&](const ml::RerankerFit& r) {
                              ctx.update([&](json::object& d) { d["rerank"] = r.ToJson(); }, true);
                            }, std::move(fitted.judgement), ctx.step_aside);
  if (Cancelled(ctx)) return ml::CancelledStatus();
  steps.End(&JobSteps::validation);

  // 3b. The refit on all data (the events validation was loaded with, no
  // second read of the store; `data` is consumed: only final_data from here).
  std::string refit = "none: no validation split";
  std::optional<ml::Dataset> served_data;
  if (will_refit) {
    served_data = AllData(std::move(td));
    ASSIGN_OR_RETURN(refit, Refit(ctx, env, shape, fitted, *served_data, val, served));
    steps.End(&JobSteps::refit);
  }
  const ml::Dataset& final_data = served_data ? *served_data : data;

  // 4. The item index.
  SetStatus(ctx, JobStatus::kBuildingIndex, 0.93);
  ASSIGN_OR_RETURN(auto index, ann::BuildItemIndex(fitted.model->item_embeddings().data(), final_data.n_items,
                                                   fitted.model->dim(), env.registry->options().index));
  ASSIGN_OR_RETURN(std::string index_bytes, index->Serialize());
  if (Cancelled(ctx)) return ml::CancelledStatus();
  steps.End(&JobSteps::index);

  // 5. Store the version, then deploy it if the gate lets it.
  SetStatus(ctx, JobStatus::kDeploying, 0.96);
  ASSIGN_OR_RETURN(Stored stored, StoreAndDeploy(ctx, env, *st, fitted, final_data, val, *index, index_bytes,
                                                 baseline, refit, served_data.has_value()));
  steps.End(&JobSteps::storing);
  JobSteps took = steps.learned();
  // An auto job's validation took the search's judgement: not what a
  // validation costs (the steps' figures are learned across types).
  if (judged_by_search) took.validation = 0;
  env.speed->RecordJob(fitted.chosen, JobTimes{.data = shape,
                                               .took = took,
                                               .eval_seconds = fitted.eval_seconds,
                                               .evaluations = fitted.evaluations});
  const double duration = Seconds(started);
  const std::string location = env.registry->Location(ctx.tenant_id, stored.version.model_key);
  ctx.update([&](json::object& d) {
    d["status"] = store::JobStatusName(JobStatus::kCompleted);
    d["progress"] = 1.0;
    d["model_version"] = stored.version.version;
    d["final_metrics"] = val.final_metrics;
    d["model_location"] = location;
    d["deployment_status"] = stored.deployment_status;
    d["deployment_reason"] = stored.reason;
    if (!stored.experiment_id.empty()) d["experiment_id"] = stored.experiment_id;
    d["training_duration_seconds"] = duration;
    d["epochs_run"] = fitted.epochs_run;
    d["refit"] = refit;
    // An incremental run continues a model refit on all data: it has seen
    // this validation split, so the figures are optimistic.
    d["validation_held_out"] = !(st->incremental && val.deployed_ndcg_recorded);
    if (!val.lift.empty()) d["lift"] = val.lift;
    if (!val.recency.empty()) d["recency"] = val.recency;
    if (val.similar.users > 0) d["similar_items"] = SimilarJson(val.similar);
    // Scores as probabilities: the fit, or why there is none (scores are then sigmoid(ip)).
    d["score_calibration"] = val.calibration ? json::value(val.calibration->ToJson())
                                             : json::value(json::object{{"none", val.calibration_problem}});
    d.erase("phase");
    d["best_epoch"] = fitted.best_epoch;
    d["seconds_per_epoch"] = fitted.epochs_run ? fitted.train_seconds / fitted.epochs_run : 0.0;
    d["phase_seconds"] = steps.took().Json(served_data.has_value());
    // The fit's periodic validations: part of phase_seconds.fit.
    if (fitted.evaluations > 0) d["fit_evaluation_seconds"] = fitted.eval_seconds;
    d["index"] = stored.index_json;
    d["finished_at"] = FormatRfc3339Millis(env.clock->NowMillis());
    d.erase("estimated_completion");
  }, true);
  return Status::Ok();
}

}  // namespace embedrec::training
