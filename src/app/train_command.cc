#include "app/train_command.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "common/strings.h"
#include "ml/dataset.h"
#include "ml/evaluator.h"
#include "ml/model_file.h"

namespace embedrec::app {

void AddTrainCommand(CLI::App& app, TrainCommand* c, CLI::App** sub) {
  auto* t = app.add_subcommand("train", "Train and evaluate a model from files (offline)");
  t->add_option("--train", c->train_path, "Training interactions (CSV or adjacency text)")
      ->required();
  t->add_option("--test", c->test_path,
                "Held-out interactions; without it, --holdout of each user's items is held out");
  t->add_option("--model", c->model, "lightgcn, bpr_mf, als, ease, item_knn or popularity")
      ->capture_default_str()
      ->check(CLI::IsMember({"lightgcn", "bpr_mf", "als", "ease", "item_knn", "popularity"}));
  t->add_option("--lambda", c->options.lambda, "ease: L2 of the item x item solve")->capture_default_str();
  t->add_option("--neighbors", c->options.neighbors, "item_knn: neighbours kept per item (0: all)")
      ->capture_default_str();
  t->add_option("--alpha", c->options.alpha, "als: confidence 1 + alpha * weight")
      ->capture_default_str();
  c->half_life_option = t->add_option("--half-life-days", c->options.half_life_days,
                                      "popularity, item_knn: days after which an event counts half "
                                      "(item_knn when not given: from the data)")->capture_default_str();
  t->add_option("--format", c->format, "csv (header with user_id,item_id) or adjacency "
                "(LightGCN's text format; .gz read as such)")
      ->capture_default_str()->check(CLI::IsMember({"csv", "adjacency"}));
  t->add_option("--min-rating", c->min_rating, "CSV: rows rated below this are not positives")
      ->capture_default_str();
  t->add_option("--eval-users", c->eval_users,
                 "Rank a fixed random sample of this many test users (0: all); figures get standard errors")
      ->capture_default_str();
  t->add_option("--holdout", c->holdout, "Fraction of each user's items held out without --test")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  t->add_option("--valid", c->valid,
                "Fraction of each user's training items held out for validation: the metric "
                "curve and --patience use it, the final metrics the test split")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  t->add_flag("--random-split", c->random_split,
              "Hold out at random even when the data has timestamps");
  auto& o = c->options;
  t->add_option("--epochs", o.epochs, "Training epochs")->capture_default_str();
  t->add_option("--dim", o.embedding_dim, "embedding_dim")->capture_default_str();
  t->add_option("--layers", o.num_layers, "num_layers")->capture_default_str();
  c->lr_option = t->add_option("--lr", o.learning_rate,
                               "learning_rate (none given: 0.01 with --time-budget; else 0.001, scaled "
                               "with a batch scaled to the data up to 0.01)")
                     ->capture_default_str();
  t->add_option("--batch-size", o.batch_size,
                 "batch_size (0: lightgcn's scaled to the data, max(2048, training pairs / 32); else 2048)")
      ->capture_default_str();
  t->add_option("--walks", o.walks,
                "lightgcn: 0 for the exact propagation step, else random walks per batch node "
                "of the sampled step (cost linear in the data)")
      ->capture_default_str();
  t->add_option("--refreshes", o.refreshes,
                "lightgcn with --walks: full propagations per epoch")->capture_default_str();
  t->add_option("--negatives", o.negative_samples, "negative_samples per positive")
      ->capture_default_str();
  c->loss_option = t->add_option("--loss", o.loss,
                                 "lightgcn, bpr_mf: bpr, or softmax (the sampled softmax over "
                                 "negatives shared by each batch; default bpr, softmax with --time-budget)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, ml::TrainOptions::Loss>{{"bpr", ml::TrainOptions::Loss::kBpr},
                                                        {"softmax", ml::TrainOptions::Loss::kSoftmax}},
          CLI::ignore_case));
  t->add_option("--temperature", o.temperature, "softmax loss: temperature of the scores")
      ->capture_default_str();
  t->add_option("--softmax-negatives", o.softmax_negatives,
                "softmax loss: uniform negatives shared by each batch")->capture_default_str();
  c->reg_option = t->add_option("--reg", o.reg,
                                 "L2: on the batch's ego embeddings (lightgcn, bpr_mf; default "
                                 "1e-4, lightgcn with --time-budget 0.05), λ (als; default 0.1)");
  t->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  t->add_option("--threads", o.threads, "Threads (0: all cores)")->capture_default_str();
  t->add_option("--eval-every", o.eval_every, "Epochs between evaluations (0: only at the end)")
      ->capture_default_str();
  t->add_option("--patience", o.patience,
                "Stop after this many evaluations without a better ndcg@10 (0: never)")
      ->capture_default_str();
  t->add_option("--k", c->ks, "Cut-offs for the metrics, comma-separated")->capture_default_str();
  t->add_option("--time-budget", c->options.time_budget_seconds,
                "lightgcn, bpr_mf: stop before an epoch that would end past this many seconds of "
                "training and keep the best evaluated state")
      ->check(CLI::PositiveNumber);
  t->add_option("--out", c->out, "Write the trained model here (embedrec model file)");
  t->add_flag("!--no-progress", c->progress, "No progress bar");
  *sub = t;
}

namespace {

double PeakRssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string MetricsJson(const ml::Metrics& m) {
  std::ostringstream s;
  s << "{";
  bool first = true;
  for (const auto& [k, v] : m.values) {
    s << (first ? "" : ",") << JsonQuote(k) << ":" << v;
    first = false;
  }
  s << "}";
  return s.str();
}

}  // namespace

int RunTrain(TrainCommand c) {
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "embedrec train: %s\n", msg.c_str());
    return 1;
  };
  c.options.ks.clear();
  for (auto part : Split(c.ks, ',')) {
    int k = std::atoi(std::string(Trim(part)).c_str());
    if (k <= 0) return fail("--k takes positive integers, e.g. 10,20");
    c.options.ks.push_back(k);
  }
  if (c.options.eval_every == 0) c.options.eval_every = c.options.epochs;  // only at the end
  if (c.model == "als" && c.reg_option && c.reg_option->count() == 0) c.options.reg = 0.1;
  if (c.model == "item_knn" && c.half_life_option && c.half_life_option->count() == 0) c.options.half_life_days = 0;
  // With a time budget, what is not given follows our recipe: lr 0.01
  // (measured to reach the reference's 100-epoch quality ten times sooner)
  // and, for LightGCN, the sampled softmax over 4,096 shared negatives with
  // L2 0.05 (Gowalla's recall@20 0.18 in 30 epochs where BPR flattened at
  // 0.172 after 170: docs/benchmarks.md, "Time to quality on Gowalla").
  auto given = [](const CLI::Option* o) { return o && o->count() > 0; };
  if (c.options.time_budget_seconds > 0 && (c.model == "lightgcn" || c.model == "bpr_mf")) {
    if (!given(c.lr_option)) c.options.learning_rate = 0.01;
    if (c.model == "lightgcn" && !given(c.loss_option)) {
      c.options.loss = ml::TrainOptions::Loss::kSoftmax;
      if (!given(c.reg_option)) c.options.reg = 0.05;
    }
  }
  if (Status s = c.options.Validate(); !s.ok()) return fail(s.message());

  auto t_load = std::chrono::steady_clock::now();
  std::vector<ml::Interaction> train, test;
  ml::CsvIds ids;
  auto read = [&](const std::string& path) -> StatusOr<std::vector<ml::Interaction>> {
    if (c.format == "adjacency") return ml::ReadAdjacencyFile(path);
    return ml::ReadInteractionsCsv(path, c.min_rating, &ids);
  };
  auto tr = read(c.train_path);
  if (!tr.ok()) return fail(tr.status().message());
  if (!c.test_path.empty()) {
    auto te = read(c.test_path);
    if (!te.ok()) return fail(te.status().message());
    train = std::move(*tr);
    test = std::move(*te);
  } else {
    ml::SplitOptions so;
    so.fraction = c.holdout;
    so.seed = c.options.seed;
    so.temporal = !c.random_split;
    ml::SplitPerUser(*tr, so, &train, &test);
  }
  // With --valid, the model is fitted (and early-stopped) on a view whose
  // "test" part is the validation split; the final metrics rank against the
  // test split, excluding every training item (validation ones included).
  std::vector<ml::Interaction> fit_train, valid;
  if (c.valid > 0) {
    ml::SplitOptions so;
    so.fraction = c.valid;
    so.seed = c.options.seed + 1;
    so.temporal = !c.random_split;
    ml::SplitPerUser(train, so, &fit_train, &valid);
  }
  ml::Dataset data = ml::MakeDataset(std::move(train), std::move(test));
  ml::SampleEvalUsers(&data, c.eval_users, c.options.seed);
  ml::Dataset fit_view;
  if (c.valid > 0) {
    fit_view = ml::MakeDataset(std::move(fit_train), std::move(valid), data.n_users, data.n_items);
  }
  const ml::Dataset& fit_data = c.valid > 0 ? fit_view : data;
  double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  const auto type = ml::ParseModelType(c.model);
  if (!type) return fail("unknown model " + c.model);
  const bool scaled_batch = c.options.batch_size == 0 && ml::IsGradientTrained(*type);
  const int batch = c.options.BatchSizeFor(fit_data.train.size(), c.options.Propagates(*type));
  // A batch scaled to the data takes a learning rate scaled with it, unless one was given (as jobs do).
  if (scaled_batch && c.lr_option && c.lr_option->count() == 0) c.options.learning_rate = c.options.LearningRateFor(batch);
  auto model = ml::NewModel(*type);
  const bool bar = c.progress && isatty(STDERR_FILENO);
  std::vector<double> epoch_seconds, eval_seconds;
  std::ostringstream curve;
  auto t_train = std::chrono::steady_clock::now();
  Status s = model->Fit(fit_data, c.options, [&](const ml::EpochReport& r) {
    epoch_seconds.push_back(r.seconds);
    if (r.metrics) {
      eval_seconds.push_back(r.eval_seconds);
      curve << (curve.tellp() > 0 ? "," : "") << "{\"epoch\":" << r.epoch
            << ",\"loss\":" << r.loss << ",\"metrics\":" << MetricsJson(*r.metrics) << "}";
    }
    if (bar) {
      double mean = 0;
      for (double x : epoch_seconds) mean += x;
      mean /= epoch_seconds.size();
      int width = 30, done = width * r.epoch / c.options.epochs;
      // \033[K clears what a longer previous line left behind.
      std::fprintf(stderr, "\r[%.*s%*s] epoch %d/%d loss %.4f %.2f s/epoch ETA %.0f s\033[K",
                   done, "==============================", width - done, "", r.epoch,
                   c.options.epochs, r.loss, mean, mean * (c.options.epochs - r.epoch));
      if (r.metrics) {
        std::fprintf(stderr, " recall@20 %.4f ndcg@20 %.4f", r.metrics->Get("recall@20"),
                     r.metrics->Get("ndcg@20"));
      }
      std::fflush(stderr);
    }
  });
  if (bar) std::fprintf(stderr, "\n");
  if (!s.ok()) return fail(s.message());
  double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();

  ml::Metrics final_metrics;
  if (data.test.size() > 0) {
    final_metrics = ml::Evaluate(data, model->user_embeddings().data(),
                                 model->item_embeddings().data(), model->dim(), c.options.ks);
  }
  double per_epoch = 0;
  for (double x : epoch_seconds) per_epoch += x;
  per_epoch = epoch_seconds.empty() ? 0 : per_epoch / epoch_seconds.size();
  double per_eval = 0;
  for (double x : eval_seconds) per_eval += x;
  per_eval = eval_seconds.empty() ? 0 : per_eval / eval_seconds.size();
  std::ostringstream out;
  out << "{\"model\":\"" << model->name() << "\",\"users\":" << data.n_users
      << ",\"items\":" << data.n_items << ",\"train_interactions\":" << data.train.size()
      << ",\"test_interactions\":" << data.test.size()
      << ",\"validation_interactions\":" << (c.valid > 0 ? fit_data.test.size() : 0)
      << ",\"curve_on\":\"" << (c.valid > 0 ? "validation" : "test") << "\""
      << ",\"epochs\":" << epoch_seconds.size()
      << ",\"best_epoch\":" << model->best_epoch() << ",\"seconds_per_epoch\":" << per_epoch
      << ",\"seconds_per_eval\":" << per_eval << ",\"load_seconds\":" << load_seconds
      << ",\"train_seconds\":" << train_seconds << ",\"peak_rss_mb\":" << PeakRssMb()
      << ",\"evaluated_users\":" << final_metrics.users << ",\"population\":" << final_metrics.population;
  if (ml::IsGradientTrained(*type)) {
    const bool softmax = c.options.loss == ml::TrainOptions::Loss::kSoftmax;
    out << ",\"batch_size\":" << batch << ",\"learning_rate\":" << c.options.learning_rate
        << ",\"reg\":" << c.options.reg << ",\"loss\":\"" << (softmax ? "softmax" : "bpr") << "\"";
    if (softmax) {
      out << ",\"softmax_negatives\":" << c.options.softmax_negatives
          << ",\"temperature\":" << c.options.temperature;
    }
  }
  for (const auto& [k, v] : final_metrics.std_errors) out << "," << JsonQuote(k + "_se") << ":" << v;
  for (const auto& [k, v] : final_metrics.values) out << "," << JsonQuote(k) << ":" << v;
  out << ",\"curve\":[" << curve.str() << "]}";
  std::printf("%s\n", out.str().c_str());
  if (!c.out.empty()) {
    auto exported = model->Export();
    if (!exported.ok()) return fail(exported.status().message());
    ml::ModelArtifact& a = *exported;
    if (!ids.user_ids.empty()) {
      a.user_ids = ids.user_ids;
      a.item_ids = ids.item_ids;
      a.user_ids.resize(a.n_users);  // ids seen only in rows skipped by --min-rating stay out
      a.item_ids.resize(a.n_items);
    }
    a.metadata_json = out.str();  // the summary above: hyperparameters' results and metrics
    Status saved = ml::SaveModelFile(c.out, a);
    if (!saved.ok()) return fail(saved.message());
  }
  return 0;
}

}  // namespace embedrec::app
