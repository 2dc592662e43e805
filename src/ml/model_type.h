// The model families the trainer fits. Their names ("lightgcn", …) appear
// only at the edges: JSON documents, model files and stored records.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace embedrec::ml {

// kBlend: a weighted blend of two of the others' scores (ml/blend.h),
// made only by the auto search.
enum class ModelType { kLightGcn, kBprMf, kAls, kEase, kItemKnn, kPopularity, kBlend };

// "lightgcn", "bpr_mf", "als", "ease", "item_knn", "popularity", "blend".
std::string_view ModelTypeName(ModelType type);
// nullopt for a name that is none of the above.
std::optional<ModelType> ParseModelType(std::string_view name);
// Every type a request may name, in the order above (all but kBlend).
const std::vector<ModelType>& AllModelTypes();

// The item-to-item models (ease, item_knn): a user's vector is the sum of
// their items' rows of the item x item weights, so a fold-in of recent items
// already ranks those items' neighbours; their fold-in needs the item ego
// rows of their file (the input factor), which serving keeps.
inline bool IsItemToItem(ModelType type) { return type == ModelType::kEase || type == ModelType::kItemKnn; }
// Fitted in one pass (no epochs): popularity, ease, item_knn.
inline bool IsClosedForm(ModelType type) { return type == ModelType::kPopularity || IsItemToItem(type); }
// Trained by gradient steps over epochs, with a time budget (lightgcn, bpr_mf).
inline bool IsGradientTrained(ModelType type) { return type == ModelType::kLightGcn || type == ModelType::kBprMf; }

}  // namespace embedrec::ml
