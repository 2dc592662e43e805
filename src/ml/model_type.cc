#include "ml/model_type.h"

namespace embedrec::ml {

namespace {
constexpr std::pair<ModelType, std::string_view> kNames[] = {
    {ModelType::kLightGcn, "lightgcn"}, {ModelType::kBprMf, "bpr_mf"},       {ModelType::kAls, "als"},
    {ModelType::kEase, "ease"},         {ModelType::kItemKnn, "item_knn"},   {ModelType::kPopularity, "popularity"},
    {ModelType::kBlend, "blend"},
};
}  // namespace

std::string_view ModelTypeName(ModelType type) {
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "unknown";
}

std::optional<ModelType> ParseModelType(std::string_view name) {
  for (const auto& [t, n] : kNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

const std::vector<ModelType>& AllModelTypes() {
  static const std::vector<ModelType> kAll = [] {
    std::vector<ModelType> v;
    for (const auto& [t, name] : kNames) {
      if (t != ModelType::kBlend) v.push_back(t);
    }
    return v;
  }();
  return kAll;
}

}  // namespace embedrec::ml
