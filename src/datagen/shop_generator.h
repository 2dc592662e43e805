// Writes a realistic synthetic shop as the two CSV files customers upload
// (items.csv and interactions.csv, in the columns of the customer journey),
// for tests and benchmarks at any size.
//
// Not shaped after any one model: a user's choice mixes several signals of
// different kinds, none of which a single model type captures alone:
//   * categories of skewed sizes, each with its own brands (popular and
//     niche ones) and log-normal price level;
//   * items with a power-law (log-normal) base popularity, a latent style
//     vector, a brand, a price, some with a season (a yearly peak) and some
//     released during the window (never chosen before their release);
//   * users with a category mix (1-4 categories, uneven shares), one to three
//     favourite brands, a price band (cheaper or dearer than the category's
//     median), a latent taste (their affinity for item styles), a join day,
//     and a power-law activity;
//   * sessions: a category from the mix (or exploration), items drawn from it
//     by popularity × taste × brand × price fit × season (importance
//     resampling of popularity-drawn candidates, so any size stays cheap),
//     later views of a session near the previous item's style; a view →
//     add_to_cart → purchase funnel more likely for items that fit the user,
//     view durations, re-views, and ratings on some purchases.
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
  // Also write truth.csv: the generator's own purchase propensities, for
  // benchmarks to measure how close a model comes to the best any could do.
  bool write_truth = false;
};

struct ShopStats {
  int64_t items = 0;
  int64_t interactions = 0;
  int64_t views = 0, carts = 0, purchases = 0;
};

// Writes `dir`/items.csv and `dir`/interactions.csv (the directory is created).
// With write_truth, also `dir`/truth.csv (user_id,item_id,category_share,
// in_category): for each user and category, the category's 40 likeliest
// purchases at the end of the window. A purchase of item i in category c
// comes from a session in c (P = category_share, exploration included) whose
// view picked i and led to a cart and a purchase (P = in_category, given c);
// the session pull and re-views are left out.
StatusOr<ShopStats> GenerateShop(const ShopOptions& options, const std::string& dir);

}  // namespace embedrec::datagen
