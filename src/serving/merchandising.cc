#include "serving/merchandising.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>
#include <map>

#include "common/json_fields.h"
#include "common/json_text.h"

namespace embedrec::serving {
namespace json = boost::json;

namespace {

// The item's property `key` as text for comparison, and as a number when it is one.
struct PropertyValue {
  std::optional<std::string> text;
  std::optional<double> number;
};

PropertyValue PropertyOf(const CatalogItem& item, const std::string& key) {
  PropertyValue out;
  const json::object props = ParseJsonObject(item.properties_json);
  const json::value* v = props.if_contains(key);
  if (!v || v->is_null()) return out;
  if (v->is_number()) {
    out.number = v->to_number<double>();
    out.text = JsonText(*v);
  } else if (v->is_string()) {
    out.text = std::string(v->as_string());
  } else if (v->is_bool()) {
    out.text = v->as_bool() ? "true" : "false";
  }
  return out;
}

}  // namespace

bool MerchCondition::Matches(const CatalogItem& item) const {
  if (!category.empty() && item.category != category) return false;
  if (!brand.empty() && item.brand != brand) return false;
  if (!tag.empty() && std::find(item.tags.begin(), item.tags.end(), tag) == item.tags.end()) return false;
  if (price_min && !(item.price && *item.price >= *price_min)) return false;
  if (price_max && !(item.price && *item.price <= *price_max)) return false;
  if (!property.empty()) {
    const PropertyValue p = PropertyOf(item, property);
    if (!p.text) return false;
    if (property_equals && *p.text != *property_equals) return false;
    if (property_min && !(p.number && *p.number >= *property_min)) return false;
    if (property_max && !(p.number && *p.number <= *property_max)) return false;
  }
  return true;
}

namespace {

StatusOr<std::optional<double>> Number(const json::object& o, const char* key, const std::string& where, double lo,
                                       double hi) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<double>();
  if (!v->is_number()) return FieldTypeError(where + "." + key, "a number");
  const double d = v->to_number<double>();
  if (!(d >= lo && d <= hi)) {
    return FieldValueError(where + "." + key, where + "." + key + " must be " + JsonText(json::value(lo)) + " to " +
                                                  JsonText(json::value(hi)));
  }
  return std::optional<double>(d);
}

// A whole number from `lo` to 1000.
StatusOr<std::optional<int>> Count(const json::object& o, const char* key, const std::string& where, int lo) {
  ASSIGN_OR_RETURN(auto d, Number(o, key, where, lo, 1000));
  if (!d) return std::optional<int>();
  if (*d != std::floor(*d)) return FieldValueError(where + "." + key, where + "." + key + " must be a whole number");
  return std::optional<int>(static_cast<int>(*d));
}

StatusOr<std::string> Text(const json::object& o, const char* key, const std::string& where, size_t max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return FieldTypeError(where + "." + key, "a string");
  if (v->as_string().size() > max) {
    return FieldValueError(where + "." + key, where + "." + key + " is longer than " + std::to_string(max));
  }
  return std::string(v->as_string());
}

StatusOr<MerchCondition> ParseCondition(const json::value* v, const std::string& where) {
  MerchCondition c;
  if (!v || !v->is_object()) return FieldTypeError(where, "an object (the items the rule applies to)");
  const json::object& o = v->as_object();
  static const std::set<std::string_view> kKeys = {"category", "brand", "tag", "price_min", "price_max",
                                                   "property", "property_min", "property_max", "property_equals"};
  for (const auto& [k, x] : o) {
    if (!kKeys.count(k)) return FieldValueError(where, where + " has an unknown condition '" + std::string(k) + "'");
  }
  ASSIGN_OR_RETURN(c.category, Text(o, "category", where, 256));
  ASSIGN_OR_RETURN(c.brand, Text(o, "brand", where, 256));
  ASSIGN_OR_RETURN(c.tag, Text(o, "tag", where, 256));
  ASSIGN_OR_RETURN(c.price_min, Number(o, "price_min", where, 0, 1e15));
  ASSIGN_OR_RETURN(c.price_max, Number(o, "price_max", where, 0, 1e15));
  ASSIGN_OR_RETURN(c.property, Text(o, "property", where, 256));
  ASSIGN_OR_RETURN(c.property_min, Number(o, "property_min", where, -1e15, 1e15));
  ASSIGN_OR_RETURN(c.property_max, Number(o, "property_max", where, -1e15, 1e15));
  if (const json::value* e = o.if_contains("property_equals"); e && !e->is_null()) {
    if (e->is_string()) c.property_equals = std::string(e->as_string());
    else if (e->is_number() || e->is_bool()) c.property_equals = JsonText(*e);
    else return FieldTypeError(where + ".property_equals", "a string, number or boolean");
  }
  const bool on_property = c.property_min || c.property_max || c.property_equals;
  if (on_property && c.property.empty()) {
    return FieldValueError(where + ".property", where + ".property names the property the comparison reads");
  }
  if (c.category.empty() && c.brand.empty() && c.tag.empty() && !c.price_min && !c.price_max && c.property.empty()) {
    return FieldValueError(where, where + " needs at least one condition");
  }
  return c;
}

}  // namespace

StatusOr<Merchandising> ParseMerchandising(const json::value& v) {
  Merchandising m;
  const std::string root = "settings.merchandising";
  if (v.is_null()) return m;
  if (!v.is_object()) return FieldTypeError(root, "an object");
  const json::object& o = v.as_object();
  for (const auto& [k, x] : o) {
    if (k != "rules" && k != "diversity") {
      return FieldValueError(root, root + " takes rules and diversity, not '" + std::string(k) + "'");
    }
  }
  if (const json::value* rules = o.if_contains("rules"); rules && !rules->is_null()) {
    if (!rules->is_array()) return FieldTypeError(root + ".rules", "an array");
    if (rules->as_array().size() > kMaxMerchRules) {
      return FieldValueError(root + ".rules", root + ".rules holds at most " + std::to_string(kMaxMerchRules));
    }
    for (size_t i = 0; i < rules->as_array().size(); ++i) {
      const std::string where = root + ".rules[" + std::to_string(i) + "]";
      const json::value& rv = rules->as_array()[i];
      if (!rv.is_object()) return FieldTypeError(where, "an object");
      const json::object& r = rv.as_object();
      MerchRule rule;
      ASSIGN_OR_RETURN(rule.name, Text(r, "name", where, 100));
      if (rule.name.empty()) rule.name = "rule " + std::to_string(i + 1);
      ASSIGN_OR_RETURN(std::string action, Text(r, "action", where, 16));
      if (action == "boost") rule.action = MerchRule::Action::kBoost;
      else if (action == "bury") rule.action = MerchRule::Action::kBury;
      else if (action == "pin") rule.action = MerchRule::Action::kPin;
      else return FieldValueError(where + ".action", where + ".action must be boost, bury or pin");
      if (rule.action == MerchRule::Action::kPin) {
        ASSIGN_OR_RETURN(rule.item_id, Text(r, "item_id", where, 256));
        if (rule.item_id.empty()) return FieldValueError(where + ".item_id", where + ".item_id names the pinned item");
        ASSIGN_OR_RETURN(auto pos, Count(r, "position", where, 1));
        rule.position = pos.value_or(1);
      } else {
        const double hi = rule.action == MerchRule::Action::kBoost ? 10 : 1;
        ASSIGN_OR_RETURN(auto w, Number(r, "weight", where, 0, hi));
        if (!w || *w <= 0) {
          return FieldValueError(where + ".weight", where + ".weight must be above 0 and at most " +
                                                        JsonText(json::value(hi)));
        }
        rule.weight = *w;
        ASSIGN_OR_RETURN(rule.when, ParseCondition(r.if_contains("when"), where + ".when"));
      }
      if (const json::value* pages = r.if_contains("pages"); pages && !pages->is_null()) {
        if (!pages->is_array()) return FieldTypeError(where + ".pages", "an array of strings");
        for (const auto& p : pages->as_array()) {
          if (!p.is_string()) return FieldTypeError(where + ".pages", "an array of strings");
          rule.pages.insert(std::string(p.as_string()));
        }
      }
      m.rules.push_back(std::move(rule));
    }
  }
  if (const json::value* d = o.if_contains("diversity"); d && !d->is_null()) {
    if (!d->is_object()) return FieldTypeError(root + ".diversity", "an object");
    for (const auto& [k, x] : d->as_object()) {
      if (k != "max_per_category" && k != "max_per_brand") {
        return FieldValueError(root + ".diversity", root + ".diversity takes max_per_category and max_per_brand");
      }
    }
    ASSIGN_OR_RETURN(auto c, Count(d->as_object(), "max_per_category", root + ".diversity", 0));
    ASSIGN_OR_RETURN(auto b, Count(d->as_object(), "max_per_brand", root + ".diversity", 0));
    m.max_per_category = c.value_or(0);
    m.max_per_brand = b.value_or(0);
  }
  return m;
}

int MerchandisingPool(int count) { return std::min(std::max(3 * count, count + 30), std::max(count, 300)); }

std::vector<Recommendation> Merchandise(const Merchandising& m, std::string_view page,
                                        std::vector<Recommendation> ranked, int count,
                                        const CatalogSnapshot& catalog,
                                        const std::function<bool(const CatalogItem&)>& allowed) {
  // 1. Boosts and buries reorder (a stable sort: ties keep the model's order).
  struct Placed {
    Recommendation rec;
    double key;
    std::string note;
  };
  std::vector<Placed> placed;
  placed.reserve(ranked.size());
  for (auto& rec : ranked) {
    double factor = 1;
    std::string note;
    for (const auto& rule : m.rules) {
      if (rule.action == MerchRule::Action::kPin || !rule.OnPage(page) || !rule.when.Matches(*rec.item)) continue;
      const bool boost = rule.action == MerchRule::Action::kBoost;
      factor *= boost ? 1 + rule.weight : 1 - rule.weight;
      note += (note.empty() ? "" : ", ") + std::string(boost ? "promoted: " : "demoted: ") + rule.name;
    }
    const double key = rec.score * factor;
    placed.push_back({std::move(rec), key, std::move(note)});
  }
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) { return a.key > b.key; });

  // 2. Diversity: over a cap, an item waits; the waiting fill only what nothing else can.
  std::vector<Placed*> order;
  if (m.max_per_category > 0 || m.max_per_brand > 0) {
    std::map<std::string, int> per_category, per_brand;
    std::vector<Placed*> waiting;
    for (auto& p : placed) {
      if (static_cast<int>(order.size()) >= count) break;
      const CatalogItem& item = *p.rec.item;
      const bool over = (m.max_per_category > 0 && per_category[item.category] >= m.max_per_category) ||
                        (m.max_per_brand > 0 && !item.brand.empty() && per_brand[item.brand] >= m.max_per_brand);
      if (over) {
        waiting.push_back(&p);
        continue;
      }
      ++per_category[item.category];
      if (!item.brand.empty()) ++per_brand[item.brand];
      order.push_back(&p);
    }
    for (Placed* w : waiting) {
      if (static_cast<int>(order.size()) >= count) break;
      order.push_back(w);
    }
  } else {
    for (auto& p : placed) order.push_back(&p);
  }

  std::vector<Recommendation> out;
  out.reserve(order.size());
  for (Placed* p : order) {
    if (!p->note.empty()) p->rec.reason += " (" + p->note + ")";
    out.push_back(std::move(p->rec));
  }

  // 3. Pins, lowest position first: each item taken out of the list (if in
  // it) and put at its place.
  std::vector<const MerchRule*> pins;
  for (const auto& rule : m.rules) {
    if (rule.action == MerchRule::Action::kPin && rule.OnPage(page)) pins.push_back(&rule);
  }
  std::stable_sort(pins.begin(), pins.end(), [](const MerchRule* a, const MerchRule* b) { return a->position < b->position; });
  for (const MerchRule* pin : pins) {
    const CatalogItem* item = catalog.Find(pin->item_id);
    if (!item || !item->available || !allowed(*item)) continue;
    Recommendation rec{item, 0, ""};
    auto it = std::find_if(out.begin(), out.end(), [&](const Recommendation& r) { return r.item == item; });
    if (it != out.end()) {
      rec.score = it->score;
      out.erase(it);
    }
    const size_t at = std::min(out.size(), static_cast<size_t>(pin->position - 1));
    if (rec.score == 0 && at < out.size()) rec.score = out[at].score;
    rec.reason = "Featured by the shop (" + pin->name + ")";
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), std::move(rec));
  }
  if (static_cast<int>(out.size()) > count) out.resize(static_cast<size_t>(count));
  return out;
}

}  // namespace embedrec::serving
