// What a training request asks for, validated: model type, mode, and every
// hyperparameter within its documented range (defaults from the tenant's
// settings, then ours).
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string_view>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "ml/blend.h"
#include "ml/model.h"
#include "serving/exclusion.h"

namespace embedrec::training {

struct JobRequest {
  // nullopt: "auto", a budgeted search over the types (training/auto_search.h).
  std::optional<ml::ModelType> model_type = ml::ModelType::kLightGcn;
  std::string mode = "full";      // full | incremental
  bool auto_deploy = true;
  // Fit the second stage (ml/reranker.h) and keep it where it helps; false: the model alone.
  bool rerank = true;
  ml::TrainOptions options;       // hyperparameters as applied
  double validation_split = 0.2;  // share of each user's latest purchases (or items) held out for validation
  // Interaction type → weight (over interactions::DefaultTypeWeight); 0: not a positive.
  std::map<std::string, float, std::less<>> interaction_weights;
  // settings.exclude_from_recommendations: what serving will not show a
  // user again, so what validation masks (training/training_data.h).
  serving::Exclusion exclusion = serving::Exclusion::kAuto;
  // A new version is deployed only if its validation ndcg@10 is at least
  // (1 − deploy_tolerance) × the deployed version's on the same split.
  double deploy_tolerance = 0.05;
  // model_type "auto": the search's time budget in seconds (0: three times
  // one LightGCN training at the tenant's size, decided at submit).
  // lightgcn, bpr_mf: the fit and the refit's together — the validated fit
  // stops before an epoch that would end past kFitShareOfBudget of it and
  // keeps its best evaluated epoch, and the refit trains that many epochs on all the data; by default
  // kDefaultTrainingBudgetSeconds when `epochs` is not given, none when it is
  // (the epochs asked for are trained). Other types: not used.
  double time_budget_seconds = 0;
  static constexpr double kDefaultTrainingBudgetSeconds = 1800;
  static constexpr double kFitShareOfBudget = 0.35;  // the refit takes ~1.2× the fit, the rest ~20 % (15M shop)
  // A learning rate at which a fit is fast: expected to stop early before a
  // job of its kind has run (SpeedEstimate), and for LightGCN's softmax
  // refit by continuing it (RefitEpochs).
  static constexpr double kFastLearningRate = 0.005;
  // Hyperparameters the request or the tenant's settings gave: honoured as
  // given, never searched over.
  std::set<std::string> given;
  // Who started the job ("system" for the retrain scheduler, else the
  // caller, e.g. "api key key_x") and why (a JSON object: {"reason":
  // "manual" | "new_interactions" | "interval" | "metric_drop", …the figures
  // behind it}); both shown in the job's record. Not read from a request body.
  std::string started_by;
  std::string trigger_json;
  // model_type "blend" (a request may name one: hyperparameters.blend): each
  // part's request, its type and hyperparameters as applied, and its weight;
  // options.blend is made of them. Empty for a blend whose parts' epochs are
  // chosen (the auto search's, or a named one after its fit): options.blend
  // alone then says what its refit trains.
  std::vector<JobRequest> blend_parts;
  std::vector<double> blend_weights;
};

// The L2 the softmax loss takes when `reg` is not given.
inline constexpr double kSoftmaxReg = 0.05;

// The model types a request may name ("auto" searches over the others),
// "blend" apart (it needs its parts: ParseJobRequest).
const std::vector<std::string>& ModelTypes();
// A blend's hyperparameters of the job as a whole (its parts inherit them
// unless they give their own; every other one is a part's).
inline constexpr const char* kBlendJobHyperparameters[] = {"seed", "eval_every", "patience", "validation_split"};
inline constexpr int kMaxBlendParts = 4;
// A request's model_type as its JSON names it: a type's name, or "auto".
std::string_view ModelChoiceName(const std::optional<ml::ModelType>& type);

// One hyperparameter: its JSON name, allowed range and default.
struct HyperparameterSpec {
  const char* name;
  double min, max;
  bool min_exclusive;
  bool integer;
  double default_value;
  const char* models;  // model types it applies to ("*": all)
  const char* help;
};
const std::vector<HyperparameterSpec>& Hyperparameters();

// The JSON Schema (text) of a training request's body, from the same table
// ParseJobRequest applies (ModelTypes, Hyperparameters).
std::string JobRequestSchema();

// Reads `body` {model_type?, training_mode?, auto_deploy?, rerank?, hyperparameters?,
// deploy_tolerance?, interaction_weights?} over the tenant's settings JSON
// (model_type "blend": hyperparameters.blend lists 2-4 parts, each
// {model_type, weight, hyperparameters?} read as that type's request;
// the blend's other hyperparameters are kBlendJobHyperparameters):
// settings.recommendation_model, settings.training (hyperparameter
// defaults, validated the same way), settings.interaction_types.<t>.weight,
// settings.deploy_tolerance.
// Errors: 400 for a wrong type, 422 for a value out of range or unknown
// (details: field, and min/max for a range).
StatusOr<JobRequest> ParseJobRequest(const boost::json::object& body,
                                     const std::string& settings_json);

// A batch size not given (0) made concrete for a job over `pairs` pairs
// (ml::TrainOptions::BatchSizeFor), so that every record names the batch
// the job uses, with the learning rate scaled to it when none was given
// (LearningRateFor); other model types and a given batch are left as they are.
void ResolveBatchSize(JobRequest* r, int64_t pairs);

// item_knn's half-life not given (0) made concrete for a job over `data`
// (ml::DataHalfLifeDays), so that the records name the decay the model used;
// a blend's parts likewise; anything else is left as it is.
void ResolveHalfLife(JobRequest* r, const ml::Dataset& data);

// Whether the refit on all data of `r`'s validated fit continues that
// model (its embeddings as a warm start) instead of training anew:
// LightGCN's sampled softmax at kFastLearningRate or more, the auto
// search's recipe (measured as good; job_runner.cc says where).
bool RefitContinues(const JobRequest& r);
// The epochs that refit trains, given the fit's best epoch count: all of
// them anew, or half of them continued.
int RefitEpochs(const JobRequest& r, int best_epochs);
// A blend's part `p` as a request of its own (the blend's job settings,
// the part's type and options).
JobRequest PartRequest(const JobRequest& blend, const ml::BlendPart& p);
// A blend's part as the refit trains it: the epochs its validated fit chose
// (`fit_epochs`: its best, else all it ran), anew, or half of them
// continuing `trained` where a single model's refit would (RefitContinues).
ml::BlendPart RefitPart(const JobRequest& part, int fit_epochs, double weight,
                        std::shared_ptr<const ml::Model> trained);

// The hyperparameters as applied, as a JSON object (every value that
// applies to the model type).
boost::json::object HyperparametersJson(const JobRequest& r);
// The whole request as applied: ParseJobRequest(RequestJson(r), "{}") gives r back.
boost::json::object RequestJson(const JobRequest& r);

}  // namespace embedrec::training
