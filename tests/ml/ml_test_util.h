// Small data sets and options shared by the ML tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "ml/dataset.h"
#include "ml/model.h"

namespace embedrec::ml::testing {

// `users` users with `per_user` random items each out of `items`.
inline Dataset RandomData(int users, int items, int per_user, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Interaction> train;
  for (int u = 0; u < users; ++u) {
    for (int k = 0; k < per_user; ++k) {
      train.push_back({u, static_cast<int32_t>(rng() % items), 1.0f, 0});
    }
  }
  return MakeDataset(std::move(train), {});
}

// Planted tastes: even users pick `per_user` items from the first half of
// 2 * half items, odd users from the second half.
inline std::vector<Interaction> PlantedHalves(int users, int half, int per_user, uint64_t seed) {
  std::vector<Interaction> all;
  std::mt19937_64 rng(seed);
  for (int u = 0; u < users; ++u) {
    for (int k = 0; k < per_user; ++k) {
      all.push_back({u, static_cast<int32_t>((u % 2) * half + rng() % half), 1.0f, 0});
    }
  }
  return all;
}

// The planted halves with 20 % of each user's items held out at random.
inline Dataset PlantedSplit(uint64_t seed) {
  std::vector<Interaction> train, test;
  SplitPerUser(PlantedHalves(200, 50, 12, seed),
               {.fraction = 0.2, .seed = 1, .min_items = 2, .temporal = false}, &train, &test);
  return MakeDataset(train, test);
}

// A new model by its type's name ("als", ...); null for an unknown name.
inline std::unique_ptr<Model> NewNamed(const std::string& type) {
  auto t = ParseModelType(type);
  return t ? NewModel(*t) : nullptr;
}

// Options that learn the planted data quickly, per model type.
inline TrainOptions QuickOptions(const std::string& type, int dim = 16) {
  TrainOptions o;
  o.embedding_dim = dim;
  o.epochs = type == "als" ? 5 : 30;
  o.batch_size = 256;
  o.learning_rate = 0.01;
  o.eval_every = 0;
  o.ks = {10};
  if (type == "als") o.reg = 0.1;
  if (type == "ease") o.lambda = 20;
  return o;
}

}  // namespace embedrec::ml::testing
