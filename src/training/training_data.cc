#include "training/training_data.h"

#include <boost/json/parse.hpp>
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "ml/evaluator.h"
#include "serving/catalog.h"

namespace embedrec::training {
namespace json = boost::json;
namespace {

// Fewer users with a held-out purchase than this, and validation judges
// every held-out item instead (too few to rank models by).
constexpr size_t kMinStrongestUsers = 20;

bool MixedWeights(const std::vector<ml::Interaction>& events) {
  return std::any_of(events.begin(), events.end(),
                     [&](const ml::Interaction& x) { return x.weight != events.front().weight; });
}

size_t DistinctUsers(const std::vector<ml::Interaction>& events) {
  std::unordered_set<int32_t> users;
  for (const auto& x : events) users.insert(x.user);
  return users.size();
}

}  // namespace

StatusOr<TrainingData> LoadTrainingData(store::TenantStore& store, const interactions::TypeWeights& weights,
                                        serving::Exclusion exclusion, double validation_split, uint64_t seed) {
  ASSIGN_OR_RETURN(IdMap items, store.LoadItemIndex());
  ASSIGN_OR_RETURN(IdMap users, store.LoadUserIndex());
  std::unordered_map<int64_t, const std::string*> item_name, user_name;
  for (const auto& [id, idx] : items) item_name.emplace(idx, &id);
  for (const auto& [id, idx] : users) user_name.emplace(idx, &id);

  TrainingData out;
  std::vector<ml::Interaction> all;
  std::unordered_map<int64_t, int32_t> user_row, item_row;
  std::vector<std::string> user_ids, item_ids;
  std::string last_type;
  float last_weight = 0;
  bool last_purchase = false, has_purchases = false;
  std::vector<ml::Interaction> purchases;  // (user row, item row) of each purchase event, when the mask may need them
  const bool may_mask_purchases = exclusion == serving::Exclusion::kAuto || exclusion == serving::Exclusion::kPurchased;
  RETURN_IF_ERROR(store.ScanInteractions([&](const store::TenantStore::InteractionRow& r) {
    if (r.type != last_type || last_type.empty()) {  // rows come grouped: few lookups
      last_type = r.type;
      last_weight = weights.Weight(r.type);
      last_purchase = interactions::TypeWeights::IsPurchase(r.type);
      has_purchases = has_purchases || last_purchase;
    }
    if (last_weight <= 0) return;
    auto name = item_name.find(r.item_idx);
    if (name == item_name.end()) return;  // deleted from the catalog
    auto uname = user_name.find(r.user_idx);
    if (uname == user_name.end()) return;  // created after the snapshot: next time
    auto [u, new_user] = user_row.try_emplace(r.user_idx, static_cast<int32_t>(user_ids.size()));
    if (new_user) user_ids.push_back(*uname->second);
    auto [i, new_item] = item_row.try_emplace(r.item_idx, static_cast<int32_t>(item_ids.size()));
    if (new_item) item_ids.push_back(*name->second);
    all.push_back({u->second, i->second, last_weight, r.ts_ms / 1000});
    if (last_purchase && may_mask_purchases) purchases.push_back({u->second, i->second, 1.0f, 0});
  }));
  out.events = static_cast<int64_t>(all.size());
  out.item_categories.assign(item_ids.size(), -1);
  std::unordered_map<std::string, int32_t> category_numbers;
  RETURN_IF_ERROR(serving::ForEachStoredItem(store, [&](int64_t idx, store::ItemRecord&& item) {
    auto row = item_row.find(idx);
    if (row == item_row.end() || item.category.empty()) return;
    out.item_categories[row->second] =
        category_numbers.try_emplace(item.category, static_cast<int32_t>(category_numbers.size())).first->second;
  }));
  std::vector<ml::Interaction> train, test;
  if (validation_split > 0) {
    // Validation judges what a shop wants predicted: a user's next purchase
    // (the strongest type present), knowing their other events, when enough
    // users have one; otherwise their latest items of any type.
    ml::SplitOptions split{.fraction = validation_split, .seed = seed, .min_items = 2, .temporal = true,
                           .strongest_type_only = MixedWeights(all)};
    ml::SplitPerUser(all, split, &train, &test);
    if (split.strongest_type_only && DistinctUsers(test) < kMinStrongestUsers) {
      split.strongest_type_only = false;
      ml::SplitPerUser(all, split, &train, &test);
    }
    out.validation_target = split.strongest_type_only ? "strongest_type" : "all";
    out.all_events = std::move(all);
  } else {
    train = std::move(all);
  }
  out.data = ml::MakeDataset(std::move(train), std::move(test),
                             static_cast<int32_t>(user_ids.size()),
                             static_cast<int32_t>(item_ids.size()));
  out.data.user_ids = std::move(user_ids);
  out.data.item_ids = std::move(item_ids);
  out.served.exclusion = serving::Resolved(exclusion, has_purchases);
  if (out.served.exclusion == serving::Exclusion::kPurchased) {
    out.served.purchased = ml::UserItems::FromInteractions(out.data.n_users, std::move(purchases));
  }
  // Validations rank a fixed sample of users (full ranking costs users ×
  // items); the figures say their standard errors.
  ml::SampleEvalUsers(&out.data, kValidationUsers, seed);
  if (out.data.train.size() < kMinPairs || out.data.n_users < kMinUsers ||
      out.data.n_items < kMinItems) {
    return Status::Unprocessable(
        "not enough data to train: " + std::to_string(out.data.train.size()) +
            " distinct user-item pairs from " + std::to_string(out.data.n_users) + " users and " +
            std::to_string(out.data.n_items) + " items (need at least " +
            std::to_string(kMinPairs) + " pairs, " + std::to_string(kMinUsers) + " users and " +
            std::to_string(kMinItems) + " items); upload interactions first",
        {{"pairs", std::to_string(out.data.train.size())},
         {"users", std::to_string(out.data.n_users)},
         {"items", std::to_string(out.data.n_items)}});
  }
  return out;
}

ml::UserItems ServedMask::For(const ml::Dataset& data) const {
  const ml::UserItems& t = data.train;
  switch (exclusion) {
    case serving::Exclusion::kAuto:  // resolved when loaded
    case serving::Exclusion::kAllInteracted: {
      ml::UserItems all;
      all.offsets = t.offsets;
      all.items = t.items;
      return all;
    }
    case serving::Exclusion::kNone: {
      ml::UserItems none;
      none.offsets.assign(t.offsets.size(), 0);
      return none;
    }
    case serving::Exclusion::kPurchased: break;
  }
  ml::UserItems out;
  out.offsets.reserve(t.offsets.size());
  for (int32_t u = 0; u < t.num_users(); ++u) {
    for (const int32_t* i = t.begin(u); i != t.end(u); ++i) {
      if (u < purchased.num_users() && purchased.Contains(u, *i)) out.items.push_back(*i);
    }
    out.offsets.push_back(static_cast<int64_t>(out.items.size()));
  }
  return out;
}

ml::Dataset AllData(TrainingData&& td) {
  const int32_t n_users = td.data.n_users, n_items = td.data.n_items;
  std::vector<ml::Interaction> events = td.all_events.empty() ? std::move(td.data.train_events)
                                                               : std::move(td.all_events);
  ml::Dataset all = ml::MakeDataset(std::move(events), {}, n_users, n_items);
  all.user_ids = std::move(td.data.user_ids);
  all.item_ids = std::move(td.data.item_ids);
  return all;
}

}  // namespace embedrec::training
