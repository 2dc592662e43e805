// `embedrec train`: offline training and evaluation of a recommender from
// files (the ML engine without the server), printing one JSON line.
#pragma once

#include <string>

#include "ml/model.h"

namespace CLI {
class App;
class Option;
}

namespace embedrec::app {

struct TrainCommand {
  std::string train_path, test_path, model = "lightgcn", format = "csv", out;
  double min_rating = 0;     // CSV: skip rows rated below this
  double holdout = 0.2;      // without --test: fraction held out per user
  double valid = 0;          // fraction of each user's training items for validation
  int64_t eval_users = 0;    // rank a sample of this many test users (0: all)
  bool random_split = false; // without --test: random even when timestamps exist
  std::string ks = "10,20";
  ml::TrainOptions options;
  bool progress = true;      // progress bar on a terminal
  CLI::Option* reg_option = nullptr;  // to tell a given --reg from the default
  CLI::Option* lr_option = nullptr;   // to tell a given --lr from the default
  CLI::Option* half_life_option = nullptr;  // item_knn without it: the decay from the data
  CLI::Option* loss_option = nullptr; // to tell a given --loss from the default
};

void AddTrainCommand(CLI::App& app, TrainCommand* cmd, CLI::App** sub);
// Exit code; errors are printed to stderr.
int RunTrain(TrainCommand cmd);

}  // namespace embedrec::app
