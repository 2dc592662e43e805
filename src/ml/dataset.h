// Training data for the recommenders: users and items as dense indices
// (0..n_users-1, 0..n_items-1), training positives and held-out test
// positives as per-user sorted lists (CSR).
//
// Loaders read LightGCN's adjacency text format and CSV; SplitPerUser makes
// the hold-out. Nothing here depends on the HTTP side or the stores.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "interactions/interaction_types.h"

namespace embedrec::ml {

// One observed (user, item) event, before it becomes an edge.
struct Interaction {
  int32_t user = 0;
  int32_t item = 0;
  float weight = 1.0f;  // interaction-type weight (purchase > add_to_cart > view)
  int64_t ts = 0;       // 0 when unknown
};

// Per-user item lists in CSR form: the items of user u are
// items[offsets[u] .. offsets[u+1]), sorted, without repeats.
struct UserItems {
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> items;
  // Per pair, aligned with items: the largest weight among the pair's events
  // (a purchase after views counts as a purchase). Empty: every weight is 1.
  std::vector<float> weights;

  int32_t num_users() const { return static_cast<int32_t>(offsets.size()) - 1; }
  int64_t size() const { return static_cast<int64_t>(items.size()); }
  int64_t degree(int32_t u) const { return offsets[u + 1] - offsets[u]; }
  const int32_t* begin(int32_t u) const { return items.data() + offsets[u]; }
  const int32_t* end(int32_t u) const { return items.data() + offsets[u + 1]; }
  bool Contains(int32_t u, int32_t item) const;
  // The pair's weight: 0 when absent, 1 when every weight is 1.
  float WeightOf(int32_t u, int32_t item) const;

  // Groups `pairs` by user (n_users rows), sorting and merging repeats.
  static UserItems FromInteractions(int32_t n_users, std::vector<Interaction> pairs);
};

struct Dataset {
  int32_t n_users = 0;
  int32_t n_items = 0;
  UserItems train;
  std::vector<Interaction> train_events;  // every training event (repeats, weights, times)
  UserItems test;  // may be empty (no evaluation)
  // Per user, the held-out items of their next visit (those within
  // kSessionSeconds of their earliest held-out item), each weighted by the
  // chance that it is the user's next choice, when the held-out pairs carry
  // times; empty otherwise (then any held-out item may come next). Within
  // one sitting the recorded order is only half a guide (MovieLens's users
  // rate a dozen films a minute; a basket is bought at once): the earliest
  // item takes half the chance, the visit's items share the other half.
  UserItems next_choices;
  static constexpr int64_t kSessionSeconds = 3600;
  // The users Evaluate ranks for, ascending (SampleEvalUsers); empty: every
  // user with held-out items.
  std::vector<int32_t> eval_users;
  // External ids by index, when the source had them (CSV); empty otherwise.
  std::vector<std::string> user_ids, item_ids;
};

// Reads LightGCN's text format: one line per user, "user item item ...",
// integer ids from 0; gzip-compressed files are read transparently.
// kInvalidArgument with the line number for anything else.
StatusOr<std::vector<Interaction>> ReadAdjacencyFile(const std::string& path);

// Reads a CSV file with a header naming at least the user and item columns
// (user_id|userId|user, item_id|itemId|movieId|item; optional rating,
// timestamp as the upload API takes it (RFC 3339 or epoch seconds; kept in
// seconds), interaction_type|type whose DefaultTypeWeight becomes the
// event's weight; rows of weight 0 are skipped). Rows with rating < min_rating are skipped (when the file has
// ratings). External ids are mapped to indices through `user_ids`/`item_ids`
// (appended to as new ids appear), so a train and a test file share them.
struct CsvIds {
  std::vector<std::string> user_ids, item_ids;
};
StatusOr<std::vector<Interaction>> ReadInteractionsCsv(const std::string& path, double min_rating,
                                                       CsvIds* ids);

// Holds out `fraction` of each user's distinct items: the latest ones (by
// each pair's latest event) when the interactions carry timestamps,
// otherwise a seeded random choice. Users with fewer than `min_items`
// distinct items stay in training only. `train` gets every event of the
// pairs kept (repeats, types, times: what a fit on all the data sees);
// `test` one entry per held-out pair, dated by its latest event and
// weighing its strongest.
//
// With `strongest_type_only`, only pairs of the strongest interaction type
// present (their strongest event has the largest weight there is, e.g.
// purchases: what a shop wants predicted) are held out, `fraction` of them
// and at least one for users with 3 or more items; every other pair stays in
// training, so the views and carts around a held-out purchase are known, as
// they are when a shop asks for recommendations. When every pair weighs the
// same, the two modes are one.
struct SplitOptions {
  double fraction = 0.2;
  uint64_t seed = 2020;
  int min_items = 2;
  bool temporal = true;  // when timestamps exist
  bool strongest_type_only = false;
};
void SplitPerUser(const std::vector<Interaction>& all, const SplitOptions& options,
                  std::vector<Interaction>* train, std::vector<Interaction>* test);


// Builds a dataset; test pairs whose item or user never occurs in training
// are kept (they count as misses, as in the reference evaluation).
// At least `min_users` users and `min_items` items (for datasets that must
// share one numbering, e.g. a fit and an evaluation view of the same data).
Dataset MakeDataset(std::vector<Interaction> train, std::vector<Interaction> test,
                    int32_t min_users = 0, int32_t min_items = 0);

}  // namespace embedrec::ml
