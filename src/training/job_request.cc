#include "training/job_request.h"

#include "ml/blend.h"

#include "common/json_fields.h"
#include "common/strings.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <optional>
#include <map>
#include <set>

namespace embedrec::training {
namespace json = boost::json;

namespace {

constexpr double kMaxSeed = 9007199254740991.0;  // 2^53 - 1: exact in JSON numbers

std::string Num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

Status RangeError(const std::string& field, const HyperparameterSpec& h) {
  std::string range = std::string(h.min_exclusive ? "(" : "[") + Num(h.min) + ", " + Num(h.max) + "]";
  return Status::Unprocessable(
      field + " must be " + (h.integer ? "an integer" : "a number") + " in " + range,
      {{"field", field}, {"min", Num(h.min)}, {"max", Num(h.max)},
       {"min_exclusive", h.min_exclusive ? "true" : "false"}});
}

bool AppliesTo(const HyperparameterSpec& h, const std::optional<ml::ModelType>& type) {
  if (std::string_view(h.models) == "*" || !type) return true;
  const std::string_view model = ml::ModelTypeName(*type);
  std::string_view list(h.models);
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(pos, end - pos) == model) return true;
    pos = end + 1;
  }
  return false;
}

// Reads hyperparameter values from `o` into `values`, checking each.
Status ReadValues(const json::object& o, const std::string& prefix,
                  std::map<std::string, double>* values) {
  for (const auto& [key, v] : o) {
    std::string field = prefix + std::string(key);
    const HyperparameterSpec* spec = nullptr;
    for (const auto& h : Hyperparameters()) {
      if (key == h.name) spec = &h;
    }
    if (!spec) {
      std::string known;
      for (const auto& h : Hyperparameters()) known += (known.empty() ? "" : ", ") + std::string(h.name);
      return Status::Unprocessable("unknown hyperparameter '" + std::string(key) + "'; known: " + known,
                                   {{"field", field}});
    }
    if (v.is_null()) continue;  // absent, as everywhere else (the document says nullable)
    double x;
    if (v.is_int64()) x = static_cast<double>(v.as_int64());
    else if (v.is_uint64()) x = static_cast<double>(v.as_uint64());
    else if (v.is_double()) x = v.as_double();
    else {
      return Status::InvalidArgument("field '" + field + "' must be a number",
                                     {{"field", field}, {"expected", "a number"}});
    }
    if (!std::isfinite(x) || (spec->integer && x != std::floor(x)) || x > spec->max ||
        (spec->min_exclusive ? x <= spec->min : x < spec->min)) {
      return RangeError(field, *spec);
    }
    (*values)[spec->name] = x;
  }
  return Status::Ok();
}

StatusOr<std::string> OptionalString(const json::object& o, const char* field,
                                     const std::set<std::string>& allowed, std::string dflt) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return dflt;
  if (!v->is_string()) {
    return Status::InvalidArgument(std::string("field '") + field + "' must be a string",
                                   {{"field", field}, {"expected", "a string"}});
  }
  std::string s(v->as_string());
  if (!allowed.count(s)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return Status::Unprocessable(std::string(field) + " must be one of " + list,
                                 {{"field", field}});
  }
  return s;
}


// A number in [min, max] at `field` of `o`, or nullopt when absent.
StatusOr<std::optional<double>> OptNumber(const json::object& o, const char* key,
                                          const std::string& field, double min, double max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<double>();
  if (!v->is_number()) {
    return Status::InvalidArgument("field '" + field + "' must be a number",
                                   {{"field", field}, {"expected", "a number"}});
  }
  double x = v->to_number<double>();
  if (!(x >= min && x <= max)) {
    return Status::Unprocessable(field + " must be a number in [" + Num(min) + ", " + Num(max) + "]",
                                 {{"field", field}, {"min", Num(min)}, {"max", Num(max)}});
  }
  return std::optional<double>(x);
}

// Interaction weights {type: weight} (or {type: {weight}}) into `out`.
Status ReadWeights(const json::value& v, const std::string& field,
                   std::map<std::string, float, std::less<>>* out) {
  if (!v.is_object()) {
    return Status::InvalidArgument("field '" + field + "' must be an object",
                                   {{"field", field}, {"expected", "an object"}});
  }
  for (const auto& [type, spec] : v.as_object()) {
    if (spec.is_object()) {
      if (!spec.as_object().contains("weight")) continue;  // other per-type settings
      ASSIGN_OR_RETURN(auto w, OptNumber(spec.as_object(), "weight",
                                         field + "." + std::string(type) + ".weight", 0, 1000));
      if (w) (*out)[AsciiLower(std::string(type))] = static_cast<float>(*w);
      continue;
    }
    json::object one{{"w", spec}};
    ASSIGN_OR_RETURN(auto w, OptNumber(one, "w", field + "." + std::string(type), 0, 1000));
    if (w) (*out)[AsciiLower(std::string(type))] = static_cast<float>(*w);
  }
  return Status::Ok();
}

bool IsBlendJobHyperparameter(std::string_view name) {
  for (const char* n : kBlendJobHyperparameters) {
    if (name == n) return true;
  }
  return false;
}

// options.blend made of the parts' requests (the blend's width: theirs together).
void SetBlendSpec(JobRequest* r) {
  auto spec = std::make_shared<ml::BlendSpec>();
  int dim = 0;
  for (size_t k = 0; k < r->blend_parts.size(); ++k) {
    const JobRequest& p = r->blend_parts[k];
    spec->parts.push_back({*p.model_type, p.options, r->blend_weights[k], nullptr});
    dim += p.options.embedding_dim;
  }
  r->options.blend = std::move(spec);
  r->options.embedding_dim = dim;
}

// hyperparameters.blend of a request naming model_type "blend": each part
// read as a request for its type (the tenant's settings, then the blend's
// job-level values `inherited`, then its own), into r->blend_parts.
Status ReadBlendParts(const json::value* v, const json::object& inherited, const std::string& settings_json,
                      JobRequest* r) {
  const std::string field = "hyperparameters.blend";
  if (!v || v->is_null()) {
    return Status::Unprocessable("model_type blend needs hyperparameters.blend: its parts, "
                                 "[{\"model_type\", \"weight\", \"hyperparameters\"}, …]",
                                 {{"field", field}});
  }
  if (!v->is_array()) {
    return Status::InvalidArgument("field '" + field + "' must be an array", {{"field", field}, {"expected", "an array"}});
  }
  const json::array& parts = v->as_array();
  if (parts.size() < 2 || parts.size() > static_cast<size_t>(kMaxBlendParts)) {
    return Status::Unprocessable(field + " must list 2 to " + std::to_string(kMaxBlendParts) + " parts",
                                 {{"field", field}, {"min", "2"}, {"max", std::to_string(kMaxBlendParts)}});
  }
  std::set<std::string> part_types;
  for (ml::ModelType t : ml::AllModelTypes()) {
    if (t != ml::ModelType::kPopularity) part_types.emplace(ml::ModelTypeName(t));
  }
  for (size_t k = 0; k < parts.size(); ++k) {
    const std::string at = field + "[" + std::to_string(k) + "]";
    if (!parts[k].is_object()) {
      return Status::InvalidArgument("field '" + at + "' must be an object", {{"field", at}, {"expected", "an object"}});
    }
    const json::object& part = parts[k].as_object();
    for (const auto& [key, value] : part) {
      if (key != "model_type" && key != "weight" && key != "hyperparameters") {
        return Status::Unprocessable("unknown field '" + std::string(key) + "' in a blend's part; known: model_type, "
                                     "weight, hyperparameters",
                                     {{"field", at + "." + std::string(key)}});
      }
    }
    if (!part.contains("model_type") || part.at("model_type").is_null()) {
      return Status::Unprocessable(at + ".model_type is required", {{"field", at + ".model_type"}});
    }
    json::object named{{at + ".model_type", part.at("model_type")}};
    ASSIGN_OR_RETURN(std::string type, OptionalString(named, (at + ".model_type").c_str(), part_types, ""));
    ASSIGN_OR_RETURN(auto weight, OptNumber(part, "weight", at + ".weight", 0, 1000));
    if (!weight || *weight <= 0) {
      return Status::Unprocessable(at + ".weight must be a number in (0, 1000]",
                                   {{"field", at + ".weight"}, {"min", "0"}, {"max", "1000"}, {"min_exclusive", "true"}});
    }
    json::object hyper = inherited;
    if (const json::value* h = part.if_contains("hyperparameters"); h && !h->is_null()) {
      if (!h->is_object()) {
        return Status::InvalidArgument("field '" + at + ".hyperparameters' must be an object",
                                       {{"field", at + ".hyperparameters"}, {"expected", "an object"}});
      }
      std::map<std::string, double> checked;
      RETURN_IF_ERROR(ReadValues(h->as_object(), at + ".hyperparameters.", &checked));
      if (h->as_object().contains("validation_split")) {
        return Status::Unprocessable("validation_split is the blend's, not a part's: give it in hyperparameters",
                                     {{"field", at + ".hyperparameters.validation_split"}});
      }
      for (const auto& [key, value] : h->as_object()) hyper[key] = value;
    }
    json::object body{{"model_type", type}, {"training_mode", "full"}, {"hyperparameters", std::move(hyper)}};
    ASSIGN_OR_RETURN(JobRequest p, ParseJobRequest(body, settings_json));
    r->blend_parts.push_back(std::move(p));
    r->blend_weights.push_back(*weight);
  }
  return Status::Ok();
}

}  // namespace

const std::vector<HyperparameterSpec>& Hyperparameters() {
  static const std::vector<HyperparameterSpec> kSpecs = {
      {"embedding_dim", 2, 512, false, true, 64, "lightgcn,bpr_mf,als,ease,item_knn",
       "embedding dimension (ease, item_knn: the rank the item x item model is factored to, default 128)"},
      {"num_layers", 0, 6, false, true, 3, "lightgcn", "propagation layers"},
      {"learning_rate", 0, 1, true, false, 0.001, "lightgcn,bpr_mf",
       "Adam step size (incremental mode: a tenth unless given)"},
      {"batch_size", 16, 65536, false, true, 2048, "lightgcn,bpr_mf",
       "samples per step (lightgcn when not given: scaled to the data, max(2048, training pairs / 32))"},
      {"epochs", 1, 1000, false, true, 100, "*",
       "passes over the data (als: alternations; incremental mode: 10 unless given)"},
      {"negative_samples", 1, 64, false, true, 1, "lightgcn,bpr_mf", "negatives per positive"},
      {"reg", 0, 100, false, false, 1e-4, "lightgcn,bpr_mf,als",  // the auto search tries als up to 30
       "L2 regularisation (als: lambda, default 0.1; with the softmax loss: default 0.05)"},
      {"softmax_negatives", 0, 65536, false, true, 0, "lightgcn,bpr_mf",
       "0: the BPR loss over negative_samples per positive; more: the sampled softmax over this many "
       "uniform negatives shared by each batch (4096 reached Gowalla's recall@20 0.18 in 30 epochs)"},
      {"temperature", 0, 10, true, false, 1, "lightgcn,bpr_mf", "the softmax loss: temperature of the scores"},
      {"seed", 0, kMaxSeed, false, true, 2020, "*", "random seed"},
      {"eval_every", 1, 1000, false, true, 10, "*", "epochs between validations"},
      {"patience", 0, 100, false, true, 3, "*",
       "validations without a better ndcg@10 before stopping early (0: never)"},
      {"validation_split", 0, 0.5, false, false, 0.2, "*",
       "share of each user's latest items held out for validation (0: none, no gate)"},
      {"alpha", 0, 10000, true, false, 10, "als", "confidence weight of interactions"},
      {"half_life_days", 0, 36500, true, false, 30, "popularity,item_knn",
       "decay half-life of events (popularity; item_knn's pair weights: when not given, the median "
       "user's time from their newest event to the newest of all, at least 30 days)"},
      {"lambda", 0, 1e7, true, false, 500, "ease", "L2 regularisation of the item x item solve"},
      {"neighbors", 0, 5000, false, true, 0, "item_knn", "neighbours kept per item (0: all)"},
  };
  return kSpecs;
}

const std::vector<std::string>& ModelTypes() {
  static const std::vector<std::string> kTypes = [] {
    std::vector<std::string> v{"auto"};
    for (ml::ModelType t : ml::AllModelTypes()) v.emplace_back(ml::ModelTypeName(t));
    return v;
  }();
  return kTypes;
}

std::string_view ModelChoiceName(const std::optional<ml::ModelType>& type) {
  return type ? ml::ModelTypeName(*type) : "auto";
}

std::string JobRequestSchema() {
  json::array types;
  for (const auto& t : ModelTypes()) types.emplace_back(t);
  types.emplace_back(ml::ModelTypeName(ml::ModelType::kBlend));
  json::object hyper;
  for (const auto& h : Hyperparameters()) {
    json::object p{{"type", "number"}, {"minimum", h.min}, {"maximum", h.max},
                   {"description", std::string(h.help) + " (model types: " + h.models + "; default " +
                                       Num(h.default_value) + ")"}};
    if (h.min_exclusive) p["exclusiveMinimum"] = true;
    if (h.integer) p["multipleOf"] = 1;
    hyper[h.name] = std::move(p);
  }
  json::array part_types;
  for (ml::ModelType t : ml::AllModelTypes()) {
    if (t != ml::ModelType::kPopularity) part_types.emplace_back(ml::ModelTypeName(t));
  }
  json::object part_hyper = hyper;
  part_hyper.erase("validation_split");
  hyper["blend"] = json::object{
      {"type", "array"}, {"minItems", 2}, {"maxItems", kMaxBlendParts},
      {"description", "model_type blend: its parts, each trained as a request for its type would be, their scores "
                      "blended by weight (each part's scale measured first); the blend's own hyperparameters are "
                      "seed, eval_every, patience and validation_split, which its parts inherit"},
      {"items", json::object{{"type", "object"},
                             {"required", json::array{"model_type", "weight"}},
                             {"additionalProperties", false},
                             {"properties",
                              json::object{{"model_type", json::object{{"type", "string"}, {"enum", std::move(part_types)}}},
                                           {"weight", json::object{{"type", "number"}, {"minimum", 0}, {"exclusiveMinimum", true},
                                                                   {"maximum", 1000}}},
                                           {"hyperparameters",
                                            json::object{{"type", "object"}, {"additionalProperties", false},
                                                         {"properties", std::move(part_hyper)}}}}}}}};
  const json::object weight{{"type", "number"}, {"minimum", 0}, {"maximum", 1000}};
  json::object schema{
      {"type", "object"},
      {"properties",
       json::object{
           {"model_type", json::object{{"type", "string"}, {"enum", std::move(types)},
                                       {"description", "default: the tenant's settings.recommendation_model, else "
                                                       "auto (a budgeted search over the types)"}}},
           {"training_mode", json::object{{"type", "string"}, {"enum", json::array{"full", "incremental"}}}},
           {"auto_deploy", json::object{{"type", "boolean"}}},
           {"rerank", json::object{{"type", "boolean"}}},
           {"deploy_tolerance", json::object{{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
           {"time_budget_seconds", json::object{{"type", "number"}, {"minimum", 1}, {"maximum", 86400}}},
           {"interaction_weights",
            json::object{{"type", "object"},
                         {"description", "interaction type → weight (0: not a positive)"},
                         {"additionalProperties",
                          json::object{{"anyOf", json::array{weight, json::object{{"type", "object"},
                                                                                   {"properties", json::object{{"weight", weight}}}}}}}}}},
           {"hyperparameters", json::object{{"type", "object"}, {"additionalProperties", false},
                                            {"properties", std::move(hyper)}}}}}};
  return json::serialize(schema);
}

StatusOr<JobRequest> ParseJobRequest(const json::object& body, const std::string& settings_json) {
  boost::system::error_code ec;
  json::value sv = json::parse(settings_json.empty() ? "{}" : settings_json, ec);
  const json::object empty;
  const json::object& settings = !ec && sv.is_object() ? sv.as_object() : empty;
  std::string tenant_default_model = "auto";
  if (auto* m = settings.if_contains("recommendation_model"); m && m->is_string()) {
    tenant_default_model = std::string(m->as_string());
  }
  const json::object* tenant_defaults = nullptr;
  if (auto* t = settings.if_contains("training"); t && t->is_object()) tenant_defaults = &t->as_object();
  JobRequest r;
  if (auto* t = settings.if_contains("interaction_types")) {
    if (t->is_object()) RETURN_IF_ERROR(ReadWeights(*t, "settings.interaction_types", &r.interaction_weights));
  }
  if (auto* e = settings.if_contains("exclude_from_recommendations"); e && e->is_string()) {
    r.exclusion = serving::ParseExclusion(e->as_string()).value_or(serving::Exclusion::kAuto);  // checked when set
  }
  if (auto* w = body.if_contains("interaction_weights"); w && !w->is_null()) {
    RETURN_IF_ERROR(ReadWeights(*w, "interaction_weights", &r.interaction_weights));
  }
  ASSIGN_OR_RETURN(auto tol, OptNumber(settings, "deploy_tolerance", "settings.deploy_tolerance", 0, 1));
  if (tol) r.deploy_tolerance = *tol;
  ASSIGN_OR_RETURN(tol, OptNumber(body, "deploy_tolerance", "deploy_tolerance", 0, 1));
  if (tol) r.deploy_tolerance = *tol;
  const auto& types = ModelTypes();
  if (std::find(types.begin(), types.end(), tenant_default_model) == types.end()) tenant_default_model = "auto";
  std::set<std::string> allowed(types.begin(), types.end());
  allowed.emplace(ml::ModelTypeName(ml::ModelType::kBlend));
  ASSIGN_OR_RETURN(std::string model_type, OptionalString(body, "model_type", allowed, tenant_default_model));
  r.model_type = ml::ParseModelType(model_type);  // "auto": nullopt
  const bool blend = r.model_type == ml::ModelType::kBlend;
  ASSIGN_OR_RETURN(auto budget, OptNumber(body, "time_budget_seconds", "time_budget_seconds", 1, 86400));
  if (budget) r.time_budget_seconds = *budget;
  if (budget && blend) {
    return Status::Unprocessable("time_budget_seconds applies to auto, lightgcn and bpr_mf, not to a blend: give its "
                                 "parts epochs",
                                 {{"field", "time_budget_seconds"}});
  }
  ASSIGN_OR_RETURN(r.mode, OptionalString(body, "training_mode", {"full", "incremental"}, "full"));
  if (blend && r.mode == "incremental") {
    return Status::Unprocessable("incremental training cannot continue a blend of models; train it in full mode",
                                 {{"field", "training_mode"}});
  }
  ASSIGN_OR_RETURN(auto deploy, OptBool(body, "auto_deploy"));
  r.auto_deploy = deploy.value_or(true);
  ASSIGN_OR_RETURN(auto rerank, OptBool(body, "rerank"));
  r.rerank = rerank.value_or(true);
  std::map<std::string, double> values, given;
  if (tenant_defaults) RETURN_IF_ERROR(ReadValues(*tenant_defaults, "settings.training.", &values));
  if (const json::value* v = body.if_contains("hyperparameters"); v && !v->is_null()) {
    if (!v->is_object()) {
      return Status::InvalidArgument("field 'hyperparameters' must be an object",
                                     {{"field", "hyperparameters"}, {"expected", "an object"}});
    }
    json::object own = v->as_object();
    if (own.contains("blend") && !blend) {
      return Status::Unprocessable("hyperparameters.blend applies to model_type blend",
                                   {{"field", "hyperparameters.blend"}});
    }
    own.erase("blend");
    RETURN_IF_ERROR(ReadValues(own, "hyperparameters.", &given));
    if (blend) {
      json::object inherited;
      for (const auto& [key, value] : own) {
        if (!IsBlendJobHyperparameter(key)) {
          return Status::Unprocessable("a blend's " + std::string(key) + " is its parts': give it in "
                                       "hyperparameters.blend[i].hyperparameters",
                                       {{"field", "hyperparameters." + std::string(key)}});
        }
        if (key != "validation_split" && !value.is_null()) inherited[key] = value;
      }
      RETURN_IF_ERROR(ReadBlendParts(v->as_object().if_contains("blend"), inherited, settings_json, &r));
    }
  }
  if (blend && r.blend_parts.empty()) RETURN_IF_ERROR(ReadBlendParts(nullptr, {}, settings_json, &r));
  for (const auto& [k, x] : given) values[k] = x;
  for (const auto& [k, x] : values) r.given.insert(k);
  auto get = [&](const char* name) {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    for (const auto& h : Hyperparameters()) {
      if (std::string_view(h.name) == name) return h.default_value;
    }
    return 0.0;
  };
  ml::TrainOptions& o = r.options;
  o.embedding_dim = static_cast<int>(get("embedding_dim"));
  using ml::ModelType;
  o.num_layers = r.model_type == ModelType::kLightGcn ? static_cast<int>(get("num_layers")) : 0;
  o.learning_rate = get("learning_rate");
  o.batch_size = values.count("batch_size") ? static_cast<int>(get("batch_size")) : 0;  // 0: scaled
  o.epochs = static_cast<int>(get("epochs"));
  if (r.model_type == ModelType::kAls && !values.count("epochs")) o.epochs = 15;
  if (r.model_type && ml::IsClosedForm(*r.model_type)) o.epochs = 1;
  if (r.model_type && ml::IsItemToItem(*r.model_type) && !values.count("embedding_dim")) o.embedding_dim = 128;
  if (r.mode == "incremental" && !given.count("epochs")) o.epochs = std::min(o.epochs, 10);
  // Epochs not given: a large shop's default job still ends in a set time.
  if (r.model_type && ml::IsGradientTrained(*r.model_type) && !budget && !values.count("epochs")) {
    r.time_budget_seconds = JobRequest::kDefaultTrainingBudgetSeconds;
  }
  // Adam restarts with empty moments: its first steps move every coordinate
  // by about the learning rate, which would shake a trained model. Unless
  // the request says otherwise, an incremental run steps ten times smaller.
  if (r.mode == "incremental" && !given.count("learning_rate")) o.learning_rate /= 10;
  o.negative_samples = static_cast<int>(get("negative_samples"));
  const bool takes_loss = !r.model_type || ml::IsGradientTrained(*r.model_type);
  if (const int m = static_cast<int>(get("softmax_negatives")); m > 0 && takes_loss) {
    o.loss = ml::TrainOptions::Loss::kSoftmax;
    o.softmax_negatives = m;
  }
  o.temperature = get("temperature");
  o.reg = get("reg");
  if (!values.count("reg")) {
    // ALS's lambda; the softmax over dot products overfits with BPR's L2
    // (Gowalla's best of 1e-4, 0.01, 0.05, 0.2: docs/benchmarks.md).
    if (r.model_type == ModelType::kAls) o.reg = 0.1;
    if (o.loss == ml::TrainOptions::Loss::kSoftmax) o.reg = kSoftmaxReg;
  }
  o.seed = static_cast<uint64_t>(get("seed"));
  o.eval_every = static_cast<int>(get("eval_every"));
  o.patience = static_cast<int>(get("patience"));
  o.alpha = get("alpha");
  o.half_life_days = get("half_life_days");
  if (r.model_type == ModelType::kItemKnn && !values.count("half_life_days")) o.half_life_days = 0;  // from the data
  o.lambda = get("lambda");
  o.neighbors = static_cast<int>(get("neighbors"));
  o.ks = {10, 20};
  r.validation_split = get("validation_split");
  if (blend) {
    o.epochs = 1;  // its parts' fits, one after the other
    SetBlendSpec(&r);
  }
  return r;
}

void ResolveBatchSize(JobRequest* r, int64_t pairs) {
  if (!r->blend_parts.empty()) {
    for (JobRequest& p : r->blend_parts) ResolveBatchSize(&p, pairs);
    SetBlendSpec(r);
    return;
  }
  if (r->options.batch_size > 0 || !r->model_type || !ml::IsGradientTrained(*r->model_type)) return;
  r->options.batch_size = r->options.BatchSizeFor(pairs, r->options.Propagates(*r->model_type));
  if (!r->given.count("learning_rate")) r->options.learning_rate = r->options.LearningRateFor(r->options.batch_size);
}

void ResolveHalfLife(JobRequest* r, const ml::Dataset& data) {
  if (!r->blend_parts.empty()) {
    for (JobRequest& p : r->blend_parts) ResolveHalfLife(&p, data);
    SetBlendSpec(r);
    return;
  }
  if (r->model_type == ml::ModelType::kItemKnn && !(r->options.half_life_days > 0)) {
    r->options.half_life_days = ml::DataHalfLifeDays(data);
  }
}

bool RefitContinues(const JobRequest& r) {
  return r.model_type == ml::ModelType::kLightGcn && r.options.loss == ml::TrainOptions::Loss::kSoftmax &&
         r.options.learning_rate >= JobRequest::kFastLearningRate;
}

int RefitEpochs(const JobRequest& r, int best_epochs) {
  best_epochs = std::max(1, best_epochs);
  return RefitContinues(r) ? (best_epochs + 1) / 2 : best_epochs;
}

JobRequest PartRequest(const JobRequest& blend, const ml::BlendPart& p) {
  JobRequest part = blend;
  part.blend_parts.clear();
  part.blend_weights.clear();
  part.model_type = p.type;
  part.options = p.options;
  return part;
}

ml::BlendPart RefitPart(const JobRequest& part, int fit_epochs, double weight,
                        std::shared_ptr<const ml::Model> trained) {
  fit_epochs = std::max(1, fit_epochs);
  ml::TrainOptions po = part.options;
  const bool continues = RefitContinues(part);
  po.epochs = continues ? RefitEpochs(part, fit_epochs) : fit_epochs;
  return {*part.model_type, po, weight, continues ? std::move(trained) : nullptr};
}

json::object HyperparametersJson(const JobRequest& r) {
  const ml::TrainOptions& o = r.options;
  json::object h;
  auto put = [&](const char* name, json::value v) {
    for (const auto& spec : Hyperparameters()) {
      // auto: only what was given (the rest is searched; the chosen values are the trial's).
      // blend: the job's own (its parts list theirs).
      if (std::string_view(spec.name) == name && AppliesTo(spec, r.model_type) &&
          (r.model_type || r.given.count(name)) &&
          (r.model_type != ml::ModelType::kBlend || IsBlendJobHyperparameter(name))) {
        h[name] = v;
      }
    }
  };
  put("embedding_dim", o.embedding_dim);
  put("num_layers", o.num_layers);
  put("learning_rate", o.learning_rate);
  if (o.batch_size > 0) put("batch_size", o.batch_size);  // 0 until ResolveBatchSize
  put("epochs", o.epochs);
  put("negative_samples", o.negative_samples);
  put("reg", o.reg);
  const bool softmax = o.loss == ml::TrainOptions::Loss::kSoftmax;
  put("softmax_negatives", softmax ? o.softmax_negatives : 0);
  put("temperature", o.temperature);
  put("seed", o.seed);
  put("eval_every", o.eval_every);
  put("patience", o.patience);
  put("validation_split", r.validation_split);
  put("alpha", o.alpha);
  if (o.half_life_days > 0) put("half_life_days", o.half_life_days);  // item_knn: 0 until ResolveHalfLife
  put("lambda", o.lambda);
  put("neighbors", o.neighbors);
  if (r.model_type == ml::ModelType::kBlend && o.blend) {
    // The parts as each was trained (the auto search's: the epochs it chose).
    json::array parts;
    for (const ml::BlendPart& p : o.blend->parts) {
      json::object hyper = HyperparametersJson(PartRequest(r, p));
      hyper.erase("validation_split");  // the blend's
      parts.push_back(json::object{{"model_type", ml::ModelTypeName(p.type)}, {"weight", p.weight},
                                   {"hyperparameters", std::move(hyper)}});
    }
    h["blend"] = std::move(parts);
  }
  return h;
}

json::object RequestJson(const JobRequest& r) {
  json::object weights;
  for (const auto& [t, w] : r.interaction_weights) weights[t] = w;
  return json::object{{"model_type", ModelChoiceName(r.model_type)},
                      {"training_mode", r.mode},
                      {"auto_deploy", r.auto_deploy},
                      {"hyperparameters", HyperparametersJson(r)},
                      {"deploy_tolerance", r.deploy_tolerance},
                      {"interaction_weights", std::move(weights)},
                      {"time_budget_seconds", r.time_budget_seconds > 0 ? json::value(r.time_budget_seconds)
                                                                         : json::value(nullptr)}};
}

}  // namespace embedrec::training
