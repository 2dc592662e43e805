// Writes a realistic synthetic shop as the two CSV files customers upload
// (items.csv and interactions.csv, in the columns of the customer journey),
// for tests and benchmarks at any size.
//
// What makes it realistic enough to train and evaluate on:
//   * categories with their own brands and log-normal price levels;
//   * power-law (Zipf) item popularity within each category and power-law
//     user activity;
//   * users with 1-3 favourite categories, so collaborative filtering has
//     signal to find;
//   * sessions over a time window with a view → add_to_cart → purchase
//     funnel, view durations, and ratings on some purchases.
// Output depends only on Options (seeded; no std:: distributions, whose
// results differ between standard libraries).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace embedrec::datagen {

struct ShopOptions {
  int64_t items = 10'000;           // catalog size
  int64_t users = 5'000;            // customers
  int64_t interactions = 150'000;   // interaction rows to write (approximate: whole sessions)
  int categories = 20;              // at most 40 named ones, then numbered
  uint64_t seed = 42;
  double item_zipf = 1.0;           // popularity exponent within a category
  double user_zipf = 0.8;           // activity exponent across users
  double cart_rate = 0.25;          // P(add_to_cart | view)
  double purchase_rate = 0.4;       // P(purchase | add_to_cart)
  int64_t start_unix = 1'704'067'200;  // 2024-01-01T00:00:00Z
  int64_t days = 180;
};

struct ShopStats {
  int64_t items = 0;
  int64_t interactions = 0;
  int64_t views = 0, carts = 0, purchases = 0;
};

// Writes `dir`/items.csv and `dir`/interactions.csv (the directory is created).
StatusOr<ShopStats> GenerateShop(const ShopOptions& options, const std::string& dir);

}  // namespace embedrec::datagen
