// Similar items ("customers who viewed this also viewed"): one rule for
// serving (serving/recommender.cc) and for the training job, which measures
// on its validation split how much of an item's list its category's
// bestsellers should take.
//
// The model's list ranks items by their inner product with the item's
// query (its own row; for an item-to-item model the fold-in of the item
// alone, its row of the item × item matrix). On the generated and the
// electronics shops the item a user turned to next was in the anchor's
// category's 20 bestsellers more often than in any model's 20 (hit@20 0.30
// against 0.16-0.23, 0.49 against 0.21-0.40: docs/benchmarks.md); on
// MovieLens the genre's were below every model's (0.045 against 0.03-0.07). So the job tries the
// shares in kShares: each validation user's newest training item is the
// anchor, and the target their next choice (the items of their next visit,
// each at its chance of coming first: Dataset::next_choices; any held-out
// item when the pairs carry no times); the share whose mixed lists hold it
// most often is kept (a tie: the smaller share), in the
// model file's metadata ("similar_category_share").
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ml/dataset.h"
#include "ml/model.h"

namespace embedrec::ml {

inline constexpr double kSimilarCategoryShares[] = {0, 0.25, 0.5, 0.75, 1};
inline constexpr size_t kSimilarListSize = 20;

// `k` items, slot by slot: from the category's list while its items hold
// less than `share` of the slots filled, else from the model's; none twice.
// Either list running out leaves the rest to the other.
template <typename T>
std::vector<T> MixSimilar(const std::vector<T>& model, const std::vector<T>& category, double share, size_t k) {
  std::vector<T> out;
  size_t m = 0, c = 0, from_category = 0;
  auto taken = [&](const T& x) {
    for (const T& y : out) {
      if (y == x) return true;
    }
    return false;
  };
  while (out.size() < k && (m < model.size() || c < category.size())) {
    const bool category_turn =
        c < category.size() &&
        (m >= model.size() || static_cast<double>(from_category) < share * static_cast<double>(out.size() + 1) - 1e-9);
    const T& x = category_turn ? category[c++] : model[m++];
    if (taken(x)) continue;
    out.push_back(x);
    from_category += category_turn;
  }
  return out;
}

struct SimilarShareFit {
  double share = 0;            // chosen, one of kSimilarCategoryShares
  int64_t users = 0;           // validation users judged
  std::vector<double> hit_at;  // hit@kSimilarListSize per share of kSimilarCategoryShares
};

// The validation users the share is judged on, at most (a job's).
inline constexpr int64_t kSimilarShareUsers = 2000;

// The share on `data`'s validation split (see the file comment): `model`
// trained on data.train, `item_to_item` whether its fold-in ranks an item's
// neighbours, `item_categories` per item (−1: none). At most `max_users`
// users (fewer on a large catalog, down to 200), taken evenly. Share 0 when nothing can be judged (no categories,
// no held-out items). `step_aside` (a job's) is asked every 32 users.
SimilarShareFit FitSimilarCategoryShare(const Dataset& data, const Model& model, bool item_to_item,
                                        const std::vector<int32_t>& item_categories,
                                        int64_t max_users = kSimilarShareUsers, StepAside* step_aside = nullptr);

// The share a model file's metadata carries (0 when absent or malformed).
double SimilarCategoryShare(std::string_view metadata_json);

}  // namespace embedrec::ml
