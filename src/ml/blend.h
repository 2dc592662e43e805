// A blend of two (or more) models' scores: score(u, i) = Σ_k w_k · s_k(u, i) / spread_k,
// where s_k is part k's own score and spread_k how far part k's top-20
// scores stand above its mean score (over a sample of users), so that the
// weights compare like with like. Expressed, like every model, as a dot
// product: the item embedding is the parts' item rows side by side (each
// divided by its part's root-mean-square item norm, so that "similar items"
// weigh the parts alike), the user embedding the parts' user rows side by
// side, each scaled by w_k · norm_k / spread_k. Fold-in folds in each part
// the part's own way (ALS's exact solve, EASE's rows) and scales alike.
//
// The auto search makes blends of trials it has trained (BlendOf); a job's
// refit fits the parts anew from TrainOptions::blend (Fit). Save and load
// keep each part's own state (its params, item rows and fold-in factor).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "ml/model.h"

namespace embedrec::ml {

struct BlendPart {
  ModelType type;
  TrainOptions options;  // what the part's fit trains (its chosen epochs)
  double weight = 0.5;
  // Fit continues this model (its ego rows as the warm start, users and
  // items numbered as the data's), else starts anew.
  std::shared_ptr<const Model> continue_from;
};

struct BlendSpec {
  std::vector<BlendPart> parts;
};

// The blend of trained models (their types, weights), with the spreads read
// from `data`'s training users. kInvalidArgument when the parts' item or
// user counts differ or there are fewer than two.
StatusOr<std::unique_ptr<Model>> BlendOf(const std::vector<std::shared_ptr<const Model>>& parts,
                                         const std::vector<BlendPart>& spec, const Dataset& data);

// Whether a blend's file (its params) holds an item-to-item part.
bool BlendHasItemToItem(std::string_view params_json);

}  // namespace embedrec::ml
