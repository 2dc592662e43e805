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

// Sessions that predict: each of 600 users views 12 random items of 300
// (10 categories: item % 10), then five in one category (a last session);
// the held-out choice is an unseen item of that category when
// `session_predicts` (else of any category). Views an hour apart, the
// session's a minute.
struct PlantedSessions {
  static constexpr int kUsers = 600, kItems = 300, kCategories = 10;
  Dataset data;
  std::vector<int32_t> categories;  // per item
};
inline PlantedSessions PlantSessions(bool session_predicts, uint64_t seed) {
  constexpr int kUsers = PlantedSessions::kUsers, kItems = PlantedSessions::kItems,
                kCategories = PlantedSessions::kCategories;
  std::mt19937_64 rng(seed);
  std::vector<Interaction> train, test;
  for (int32_t u = 0; u < kUsers; ++u) {
    int64_t ts = 1'700'000'000;
    std::vector<bool> seen(kItems, false);
    for (int k = 0; k < 12; ++k) {
      const auto i = static_cast<int32_t>(rng() % kItems);
      seen[i] = true;
      train.push_back({u, i, 1.0f, ts += 3600});
    }
    const int32_t c = static_cast<int32_t>(rng() % kCategories);
    for (int k = 0; k < 5; ++k) {
      const auto i = static_cast<int32_t>(c + kCategories * (rng() % (kItems / kCategories)));
      seen[i] = true;
      train.push_back({u, i, 1.0f, ts += 60});
    }
    int32_t next;
    do {
      next = session_predicts ? static_cast<int32_t>(c + kCategories * (rng() % (kItems / kCategories)))
                              : static_cast<int32_t>(rng() % kItems);
    } while (seen[next]);
    test.push_back({u, next, 5.0f, ts += 60});
  }
  PlantedSessions p;
  p.data = MakeDataset(train, test, kUsers, kItems);
  for (int32_t i = 0; i < kItems; ++i) p.categories.push_back(i % kCategories);
  return p;
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
