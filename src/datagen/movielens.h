// Converts the MovieLens "latest-small" files (movies.csv, ratings.csv) into
// the two CSV files the upload API takes. Column mapping:
//   movies.csv  movieId → item_id, title → name, first genre → category,
//               genres ('|'-separated) → tags
//   ratings.csv userId → user_id, movieId → item_id, rating → rating with
//               interaction_type "rating", timestamp (epoch seconds) → timestamp
// Ratings below 1 (MovieLens has 0.5) become 1, since the API's scale is 1–5.
// The MovieLens licence forbids commercial use: for tests and quality checks only.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace embedrec::datagen {

struct MovielensStats {
  int64_t items = 0;
  int64_t ratings = 0;
  int64_t ratings_raised_to_1 = 0;
};

StatusOr<MovielensStats> ConvertMovielens(const std::string& in_dir, const std::string& out_dir);

}  // namespace embedrec::datagen
