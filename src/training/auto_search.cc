#include "training/auto_search.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "ml/blend.h"

#include "training/served_judgement.h"

namespace embedrec::training {
namespace json = boost::json;

namespace {

constexpr double kReportEverySeconds = 2;  // while a trial trains
constexpr double kMinTrialSeconds = 1;    // a trial's time limit: one epoch at least
// An auto job's refit estimated before its choice: this share of the
// dearest planned trial's, the rest the mean of the others' (AutoJobSteps).
constexpr double kDearestRefitShare = 0.6;
// Served ndcg@10 within this share of each other: alike (well inside their
// noise: with 1,000 validation users and ndcg@10 near 0.15 its standard
// error is ~6 % of it, by arithmetic; on the electronics shop ALS and the
// softmax LightGCN were 0.2 % apart as served).
constexpr double kTieShare = 0.01;

// Blends are tried of the chosen trial and the best of each other family
// whose served figure is at least this share of the chosen's (a much weaker
// model has little to add), at these weights of the chosen; one is chosen
// only when its figure beats the best so far by more than kBlendMinGain.
// Why that margin: validation preferred blends by 1-3 % on the shops
// measured while the withheld-last-purchase protocol through the API moved
// by −0.007 to +0.010 hit@20 where one was chosen (within a run's noise;
// the twenty-ninth and thirty-third sessions, docs/benchmarks.md), at the
// cost of both parts' refits; gowalla-shop's blends, 4-5 % better in
// validation, scored 0.264-0.274 against 0.242-0.269 without.
constexpr double kBlendMinShare = 0.85;
constexpr double kBlendMinGain = 0.03;
constexpr double kBlendWeights[] = {0.7, 0.5};

// Models of one family rank alike; a blend mixes two families.
int Family(ml::ModelType t) {
  if (ml::IsItemToItem(t)) return 0;
  if (t == ml::ModelType::kAls) return 1;
  if (ml::IsGradientTrained(t)) return 2;
  return 3;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The judgement alone (a blend's: its parts are trained).
double JudgementSeconds(const JobRequest& t, const DataShape& data, SpeedEstimate& speed, bool rerank) {
  return 2 * speed.EvaluationSeconds(t, data) + (rerank ? speed.RerankSeconds(t, data) : 0);
}

// A trial: its fit, then its judgement (plain and steered rankings, the
// second stage's fit when the job reranks), and what any trial costs
// however small the data (a model and its buffers set up, the steered
// vectors: 0.08–0.12 s for each closed-form trial on a 600-user shop, whose
// own work is estimated at 0.016 s).
double TrialSeconds(const JobRequest& t, const DataShape& data, SpeedEstimate& speed, bool rerank) {
  constexpr double kPerTrialSeconds = 0.08;
  return speed.FitSeconds(t, data) + JudgementSeconds(t, data, speed, rerank) + kPerTrialSeconds;
}

// A completed trial's figures in its document.
void PutJudgement(const ServedJudgement& j, json::object& doc) {
  doc["status"] = "completed";
  doc["val_ndcg@10"] = j.plain_ndcg;
  doc["val_hit_rate@20"] = j.metrics.Get("hit_rate@20");
  doc["val_recall@20"] = j.metrics.Get("recall@20");
  if (j.steered_ndcg) doc["val_steered_ndcg@10"] = *j.steered_ndcg;
  if (j.reranked()) doc["val_reranked_ndcg@10"] = j.ndcg;
  doc["val_served_ndcg@10"] = j.ndcg;
}

}  // namespace

JobRequest RequestForType(const JobRequest& req, ml::ModelType type) {
  json::object given;
  for (const auto& [name, value] : HyperparametersJson(req)) given[name] = value;
  json::object body{{"model_type", ml::ModelTypeName(type)}, {"training_mode", req.mode}, {"hyperparameters", std::move(given)}};
  auto parsed = ParseJobRequest(body, "{}");
  JobRequest t = parsed.ok() ? std::move(*parsed) : req;
  t.model_type = type;
  t.mode = req.mode;
  t.auto_deploy = req.auto_deploy;
  t.rerank = req.rerank;
  t.validation_split = req.validation_split;
  t.interaction_weights = req.interaction_weights;
  t.deploy_tolerance = req.deploy_tolerance;
  t.exclusion = req.exclusion;
  t.given = req.given;
  t.time_budget_seconds = 0;  // the search's budget governs its trials
  return t;
}

std::vector<Trial> PlanTrials(const JobRequest& req, const DataShape& data, SpeedEstimate& speed) {
  std::vector<Trial> out;
  auto add = [&](JobRequest t) {
    ResolveBatchSize(&t, data.pairs);
    const double s = TrialSeconds(t, data, speed, req.rerank);
    out.push_back({std::move(t), s});
  };
  const bool small_catalog = data.items <= ml::kMaxItemItemItems;
  if (small_catalog) {
    // EASE's L2 grows with the data; three strengths a factor 4 apart.
    for (double lambda : {250.0, 1000.0, 4000.0}) {
      JobRequest t = RequestForType(req, ml::ModelType::kEase);
      if (!req.given.count("lambda")) t.options.lambda = lambda;
      add(std::move(t));
      if (req.given.count("lambda")) break;
    }
    add(RequestForType(req, ml::ModelType::kItemKnn));
  }
  for (double reg : {3.0, 10.0, 30.0}) {
    JobRequest t = RequestForType(req, ml::ModelType::kAls);
    if (!req.given.count("reg")) t.options.reg = reg;
    add(std::move(t));
    if (req.given.count("reg")) break;
  }
  {
    // Our recipe: a learning rate ten times the reference's (its 100-epoch
    // recall in 10 epochs on gowalla-shop) and the sampled softmax with L2
    // 0.05. Through the API on gowalla-shop: hit@20 0.254 with 1,024
    // negatives in 100 s, 0.262 with 4,096 in 493 s (within noise, s.e.
    // ±0.014), BPR's 0.254, the tuned implicit ALS's 0.249
    // (docs/benchmarks.md).
    JobRequest t = RequestForType(req, ml::ModelType::kLightGcn);
    if (!req.given.count("learning_rate")) t.options.learning_rate = 0.01;
    if (!req.given.count("softmax_negatives")) {
      t.options.loss = ml::TrainOptions::Loss::kSoftmax;
      t.options.softmax_negatives =
          static_cast<int>(std::clamp<int64_t>(data.items, 1, kSearchSoftmaxNegatives));
      if (!req.given.count("reg")) t.options.reg = kSoftmaxReg;
    }
    add(std::move(t));
  }
  {
    JobRequest t = RequestForType(req, ml::ModelType::kBprMf);
    if (!req.given.count("learning_rate")) t.options.learning_rate = 0.01;
    if (!req.given.count("epochs")) t.options.epochs = 50;
    add(std::move(t));
  }
  return out;
}

double DefaultBudgetSeconds(const JobRequest& req, const DataShape& data, SpeedEstimate& speed) {
  JobRequest l = RequestForType(req, ml::ModelType::kLightGcn);
  l.given.clear();
  ResolveBatchSize(&l, data.pairs);
  return std::clamp(3 * speed.Job(l, data).Total(), 10.0, kMaxDefaultBudgetSeconds);
}

JobSteps AutoJobSteps(const JobRequest& req, const DataShape& data, SpeedEstimate& speed) {
  const double budget = req.time_budget_seconds > 0 ? req.time_budget_seconds
                                                    : DefaultBudgetSeconds(req, data, speed);
  // The trials that fit the budget, then the chosen one's refit and steps:
  // which one is not known yet, so their mean; but the refits differ most
  // (the search's LightGCN's 8-47 s against 1-3 s for the closed forms and
  // ALS on the shops measured), and the dearest won on two data sets of
  // five (gowalla-shop, the generated shop; ALS, EASE elsewhere): weighed
  // half, the rest sharing the other half, first auto jobs were estimated
  // at 0.73-1.16x the time taken when it won and 0.85-1.13x when it did not
  // (eleven jobs, four data sets; its mean alone: 0.68-0.80x when it won).
  // Since the second stage knows what a user had (thirty-second session)
  // it won eight auto jobs of eleven on five data sets, its refits 16-39 s
  // where half of it was 11-12 s. The job's time is two-moded (its refit
  // when it wins, ALS's 2 s and a shorter search when it stops early: 122
  // and 73 s for one shop): kDearestRefitShare 0.6 keeps both modes of the
  // shops measured within ±30 % of one estimate (1.0: 0.86-1.39x).
  JobSteps out;
  int planned = 0;
  double dearest_refit = 0;
  std::set<int> families;
  int widest = 0;  // the widest planned trial's dimension
  for (const auto& t : PlanTrials(req, data, speed)) {
    if (out.fit + t.estimated_seconds > budget) continue;
    out.fit += t.estimated_seconds;
    families.insert(Family(*t.request.model_type));
    widest = std::max(widest, t.request.options.embedding_dim);
    const JobSteps other = speed.OtherSteps(t.request, data);
    const double refit = speed.RefitSeconds(t.request, data);
    out.refit += refit;
    dearest_refit = std::max(dearest_refit, refit);
    out.loading += other.loading;
    // The job takes the search's judgement of its choice: its validation
    // only calibrates the scores.
    out.validation += speed.CalibrationSeconds(t.request, data);
    out.index += other.index;
    out.storing += other.storing;
    ++planned;
  }
  if (planned > 1) {
    out.refit = kDearestRefitShare * dearest_refit + (1 - kDearestRefitShare) * (out.refit - dearest_refit) / (planned - 1);
    for (double* x : {&out.loading, &out.validation, &out.index, &out.storing}) *x /= planned;
  }
  if (families.size() > 1 && data.items <= ml::kMaxItemItemItems) {
    // Then the blends' judgements (RunSearch): each other family at each
    // weight, as wide as two trials side by side, within the budget. (A
    // chosen blend's second refit is not counted: rarely chosen.)
    JobRequest b = RequestForType(req, ml::ModelType::kAls);
    b.options.embedding_dim = 2 * widest;
    const double blends = static_cast<double>((families.size() - 1) * std::size(kBlendWeights)) *
                          JudgementSeconds(b, data, speed, req.rerank);
    out.fit += std::min(blends, std::max(0.0, budget - out.fit));
  }
  return out;
}

StatusOr<SearchResult> RunSearch(const JobRequest& req, const ml::Dataset& data, const SearchEnv& env) {
  const auto started = std::chrono::steady_clock::now();
  SearchResult r;
  // Not given: the data's own (events taken as many as the pairs).
  const DataShape shape =
      env.shape.pairs > 0 ? env.shape : JobData(data, static_cast<int64_t>(data.train.size() + data.test.size()));
  r.budget_seconds = req.time_budget_seconds > 0 ? req.time_budget_seconds
                                                 : DefaultBudgetSeconds(req, shape, *env.speed);
  std::vector<Trial> plan = PlanTrials(req, shape, *env.speed);
  for (auto& t : plan) ResolveHalfLife(&t.request, data);  // recorded as each trial fits
  for (const auto& t : plan) {
    r.trials.push_back(json::object{{"model_type", ModelChoiceName(t.request.model_type)},
                                    {"hyperparameters", HyperparametersJson(t.request)},
                                    {"status", "planned"},
                                    {"estimated_seconds", t.estimated_seconds}});
  }
  std::optional<std::chrono::steady_clock::time_point> running_since;
  double running_estimate = 0;
  auto last_report = std::chrono::steady_clock::now();
  auto report = [&] {
    last_report = std::chrono::steady_clock::now();
    if (!env.progress) return;
    double left = running_since ? std::max(0.0, running_estimate - Seconds(*running_since)) : 0;
    for (size_t k = 0; k < plan.size(); ++k) {
      if (r.trials[k].as_object().at("status") == "planned") left += plan[k].estimated_seconds;
    }
    left = std::min(left, std::max(0.0, r.budget_seconds - Seconds(started)));
    env.progress(r.trials, std::min(1.0, Seconds(started) / r.budget_seconds), left);
  };
  report();
  std::optional<double> best_ndcg;
  double best_seconds = 0, top_ndcg = 0;  // the chosen trial's seconds; the best figure of all
  size_t best_index = 0;
  // The best trial of each family (Family): what a blend is made of.
  struct Kept {
    std::shared_ptr<ml::Model> model;
    JobRequest request;
    double ndcg = 0, train_seconds = 0;
    int refit_epochs = 1;
  };
  std::map<int, Kept> families;
  Kept chosen_kept;  // the chosen trial's
  // One trial runs whatever its estimate: an estimate (of a machine under
  // load, or before this machine's speed is known) must not leave the job
  // without a model. The first ALS trial: the fastest type per epoch at every
  // size measured and linear in the data (docs/benchmarks.md), where BPR-MF's
  // epoch, memory-bound on large data, ran twice its estimate. Without ALS in
  // the plan, the cheapest estimate.
  auto fallback_it = std::find_if(plan.begin(), plan.end(),
                                  [](const Trial& t) { return t.request.model_type == ml::ModelType::kAls; });
  if (fallback_it == plan.end()) {
    fallback_it = std::min_element(plan.begin(), plan.end(), [](const Trial& a, const Trial& b) {
      return a.estimated_seconds < b.estimated_seconds;
    });
  }
  const size_t fallback = static_cast<size_t>(fallback_it - plan.begin());
  for (size_t k = 0; k < plan.size(); ++k) {
    json::object& doc = r.trials[k].as_object();
    const JobRequest& t = plan[k].request;
    if (env.cancel && env.cancel->load()) return ml::CancelledStatus();
    // Re-estimated with what the finished trials taught the speed estimate.
    const double estimate = TrialSeconds(t, shape, *env.speed, req.rerank);
    const bool must_run = k == fallback && !r.best;
    if (!must_run && Seconds(started) + estimate > r.budget_seconds) {
      doc["status"] = "skipped";
      doc["reason"] = "its estimated " + std::to_string(static_cast<int>(estimate + 0.5)) +
                      " s would overrun the time budget";
      report();
      continue;
    }
    doc["status"] = "running";
    running_since = std::chrono::steady_clock::now();
    running_estimate = estimate;
    report();
    auto model = ml::NewModel(*t.model_type);  // a trial names its type
    ml::TrainOptions opt = t.options;
    opt.cancel = env.cancel;
    opt.step_aside = env.step_aside;
    opt.threads = env.threads;
    // A gradient-trained trial stops at the budget's end, less its
    // judgement, keeping its best evaluated epoch: epochs slower than
    // estimated (a machine under load: 5.5 s against 0.6 s measured) must
    // not carry the search far past its budget. At least one epoch.
    if (ml::IsGradientTrained(*t.model_type)) {
      const double judging = std::max(0.0, estimate - env.speed->FitSeconds(t, shape));
      opt.time_budget_seconds = std::max(kMinTrialSeconds, r.budget_seconds - Seconds(started) - judging);
    }
    const auto t0 = std::chrono::steady_clock::now();
    double train_seconds = 0, epoch_seconds = 0;  // with and without the validations
    int epochs = 0;
    bool out_of_time = false;
    Status fit = model->Fit(data, opt, [&](const ml::EpochReport& e) {
      train_seconds += e.seconds + e.eval_seconds;
      epoch_seconds += e.seconds - e.paused_seconds;  // the speed learned: not the time stood aside
      epochs = e.epoch;
      out_of_time = out_of_time || e.out_of_time;
      if (Seconds(last_report) >= kReportEverySeconds) report();
    });
    running_since.reset();
    if (fit.ok()) env.speed->RecordEpochs(t, epochs, model->best_epoch());
    if (fit.code() == StatusCode::kCancelled) return fit;
    doc["seconds"] = doc["fit_seconds"] = Seconds(t0);  // then its judgement: "seconds" in all
    if (!fit.ok()) {
      doc["status"] = "failed";
      doc["reason"] = fit.message();
      report();
      continue;
    }
    if (epochs > 0 && epoch_seconds > 0) {
      env.speed->Record(t, EpochData(data), epoch_seconds / epochs);
    }
    // Judged as it would be served: steered by the newest events where that
    // predicts better, reordered by the second stage where it ranks better
    // (training/served_judgement.h), at the job's final cut-offs: the job's
    // validation takes the chosen trial's judgement as it is.
    ServedJudgement j =
        JudgeAsServed(data, *model, *t.model_type,
                      {kFinalKs, req.rerank, env.item_categories, t.options.seed, env.excluded, env.step_aside});
    const double took = Seconds(t0);
    doc["seconds"] = took;
    PutJudgement(j, doc);
    doc["epochs_run"] = epochs;
    if (out_of_time && epochs < opt.epochs) doc["fit_stopped_by"] = "time_budget";
    const double served_ndcg = j.ndcg;
    // Figures alike (within kTieShare) choose the trial that took less
    // time: its refit will too, and a closed-form or ALS refit is the same
    // model again where a gradient-trained one is a new draw.
    top_ndcg = std::max(top_ndcg, served_ndcg);
    const double alike = top_ndcg * (1 - kTieShare);
    const bool better =
        !best_ndcg || (served_ndcg >= alike && (*best_ndcg < alike || took < best_seconds));
    std::shared_ptr<ml::Model> trained = std::move(model);
    const Kept this_one{trained, t, served_ndcg, train_seconds,
                        std::max(1, trained->best_epoch() > 0 ? trained->best_epoch() : epochs)};
    Kept& kept = families[Family(*t.model_type)];
    if (!kept.model || served_ndcg > kept.ndcg) kept = this_one;
    if (better) {
      chosen_kept = this_one;
      best_ndcg = served_ndcg;
      best_seconds = took;
      best_index = k;
      r.best = trained;
      r.judgement = std::move(j);
      r.chosen = t;
      r.epochs_run = epochs;
      r.train_seconds = train_seconds;
    }
    report();
  }
  // Then blends of the chosen trial with the best of each other family that
  // comes close (kBlendMinShare): two families' rankings err differently, so
  // their blend can rank better than either.
  // (Only on catalogs up to ml::kMaxItemItemItems, where blends were
  // measured; on larger ones a blend's rows would add gigabytes to the job,
  // by arithmetic: not measured.)
  std::vector<const Kept*> others;  // best first
  if (r.best && data.n_items <= ml::kMaxItemItemItems) {
    for (const auto& [family, kept] : families) {
      if (family != Family(*chosen_kept.request.model_type) && kept.ndcg >= kBlendMinShare * *best_ndcg) {
        others.push_back(&kept);
      }
    }
    std::sort(others.begin(), others.end(), [](const Kept* a, const Kept* b) { return a->ndcg > b->ndcg; });
  }
  bool out_of_budget = false;
  for (const Kept* other : others) {
    if (out_of_budget) break;
    for (double weight : kBlendWeights) {
      if (env.cancel && env.cancel->load()) return ml::CancelledStatus();
      auto spec = std::make_shared<ml::BlendSpec>();
      for (const auto& [kept, w] : {std::pair<const Kept*, double>{&chosen_kept, weight}, std::pair<const Kept*, double>{other, 1 - weight}}) {
        spec->parts.push_back(RefitPart(kept->request, kept->refit_epochs, w, kept->model));
      }
      JobRequest t = chosen_kept.request;
      t.model_type = ml::ModelType::kBlend;
      t.options.embedding_dim = chosen_kept.model->dim() + other->model->dim();
      t.options.epochs = 1;
      t.options.blend = spec;
      json::object doc{{"model_type", "blend"}, {"hyperparameters", HyperparametersJson(t)}};
      const double estimate = JudgementSeconds(t, shape, *env.speed, req.rerank);
      if (Seconds(started) + estimate > r.budget_seconds) {
        doc["status"] = "skipped";
        doc["reason"] = "its estimated " + std::to_string(static_cast<int>(estimate + 0.5)) +
                        " s would overrun the time budget";
        r.trials.push_back(std::move(doc));
        report();
        out_of_budget = true;
        break;
      }
      const auto t0 = std::chrono::steady_clock::now();
      auto blend = ml::BlendOf({chosen_kept.model, other->model}, spec->parts, data);
      if (!blend.ok()) {
        doc["status"] = "failed";
        doc["reason"] = blend.status().message();
        r.trials.push_back(std::move(doc));
        continue;
      }
      ServedJudgement j = JudgeAsServed(data, **blend, ml::ModelType::kBlend,
                                        {kFinalKs, req.rerank, env.item_categories, t.options.seed, env.excluded, env.step_aside});
      doc["seconds"] = Seconds(t0);
      PutJudgement(j, doc);
      r.trials.push_back(std::move(doc));
      if (j.ndcg > std::max(*best_ndcg, top_ndcg) * (1 + kBlendMinGain)) {  // every single trial's, and any blend's before
        best_ndcg = j.ndcg;
        best_index = r.trials.size() - 1;
        r.best = std::shared_ptr<ml::Model>(std::move(*blend));
        r.judgement = std::move(j);
        r.chosen = t;
        r.epochs_run = 1;
        r.train_seconds = chosen_kept.train_seconds + other->train_seconds;
      }
      report();
    }
  }
  r.search_seconds = Seconds(started);
  if (!r.best) {
    return Status::FailedPrecondition("no model could be trained within the time budget of " +
                                      std::to_string(static_cast<int>(r.budget_seconds)) + " s");
  }
  r.trials[best_index].as_object()["chosen"] = true;
  return r;
}

}  // namespace embedrec::training
