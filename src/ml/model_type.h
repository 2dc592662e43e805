// The model families the trainer fits. Their names ("lightgcn", …) appear
// only at the edges: JSON documents, model files and stored records.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace embedrec::ml {

// kBlend: a blend of two of the others (ml/model.h), made by the auto
// search; never a request's type.
enum class ModelType { kLightGcn, kBprMf, kAls, kEase, kItemKnn, kPopularity, kBlend };

// "lightgcn", "bpr_mf", "als", "ease", "item_knn", "popularity", "blend".
std::string_view ModelTypeName(ModelType type);
// nullopt for a name that is none of the above.
std::optional<ModelType> ParseModelType(std::string_view name);
// Every type a training request can name, in the order above (not kBlend).
const std::vector<ModelType>& AllModelTypes();

// The item-to-item models (ease, item_knn): a user's vector is the sum of
// their items' rows of the item x item weights, so a fold-in of recent items
// already ranks those items' neighbours; their fold-in needs the item ego
// rows of their file (the input factor), which serving keeps.
inline bool IsItemToItem(ModelType type) { return type == ModelType::kEase || type == ModelType::kItemKnn; }
// Fitted in one pass (no epochs): popularity, ease, item_knn.
inline bool IsClosedForm(ModelType type) { return type == ModelType::kPopularity || IsItemToItem(type); }
// Whose file keeps item ego rows that its fold-in needs: the item-to-item
// models' input factor, and a blend's (which may hold one of them).
inline bool FoldInNeedsItemEgo(ModelType type) { return IsItemToItem(type) || type == ModelType::kBlend; }
// Trained by gradient steps over epochs, with a time budget (lightgcn, bpr_mf).
inline bool IsGradientTrained(ModelType type) { return type == ModelType::kLightGcn || type == ModelType::kBprMf; }

}  // namespace embedrec::ml
