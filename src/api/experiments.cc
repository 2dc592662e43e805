// Experiments between model versions (ML engine port): create, list, read
// with per-arm figures and the test, promote, abort. The service is
// experiments/experiment_service.h; this file parses and answers.
#include <boost/json.hpp>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/json_fields.h"
#include "experiments/experiment_service.h"
#include "http/errors.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

constexpr const char* kExperiment = R"({"type":"object",
  "required":["experiment_id","name","status","control","challenger","metric","traffic_share","min_sample","confidence","statistics","decision","history"],
  "properties":{"experiment_id":{"type":"string"},"name":{"type":"string"},
  "status":{"type":"string","enum":["waiting","running","promoted","rolled_back","ended","aborted"]},
  "control":{"type":"string"},"challenger":{"type":"string"},"challenger_settings":{"type":"object"},"metric":{"type":"string","enum":["ctr","conversion","revenue_per_user"]},
  "traffic_share":{"type":"number"},"initial_traffic_share":{"type":"number"},"rollout":{"type":"array","items":{"type":"number"}},
  "step":{"type":"integer"},"min_sample":{"type":"integer"},"confidence":{"type":"number"},"p_value":{"type":"number"},
  "statistics":{"type":"object"},"decision":{"type":"object","nullable":true},"history":{"type":"array"},
  "started_by":{"type":"string"},"created_at":{"type":"string","nullable":true},
  "currency":{"type":"string","description":"what the arms' revenue is in: settings.currency (ISO 4217); absent when the shop names none"}}})";

std::string CreateSchema() {
  return R"json({"type":"object","required":["name","challenger"],"properties":{
    "name":{"type":"string","minLength":1,"maxLength":200},
    "control":{"type":"string","maxLength":64,"description":"the deployed version (default)"},
    "challenger":{"type":"string","minLength":1,"maxLength":64,"description":"a stored version, or \"next\": the next trained version"},
    "challenger_settings":{"type":"object","description":"a strategy arm: settings its users are served with instead of the tenant's, e.g. {merchandising: {diversity: {max_per_category: 2}}}; promoted, they become the tenant's"},
    "traffic_share":{"type":"number","minimum":0,"exclusiveMinimum":true,"maximum":1,"exclusiveMaximum":true,"description":"the challenger's share of users at first (default 0.10)"},
    "metric":{"type":"string","enum":["ctr","conversion","revenue_per_user"],"description":"default ctr"},
    "min_sample":{"type":"integer","minimum":1,"maximum":1000000000,"description":"users per arm before a decision, impressions per arm per rollout step (default 1000)"},
    "confidence":{"type":"number","minimum":0.5,"maximum":1,"exclusiveMaximum":true,"description":"default 0.95"},
    "rollout":{"type":"array","minItems":1,"maxItems":10,"items":{"type":"number","minimum":0,"maximum":1},"description":"the challenger's shares after a win, ending at 1 (default [0.25, 0.5, 1])"},
    "max_duration_days":{"type":"integer","minimum":1,"maximum":365,"description":"default 30"},
    "promote_if_inconclusive":{"type":"boolean","description":"at max_duration_days without a decision: promote (default false: the control stays)"},
    "guardrails":{"type":"object","properties":{
      "max_error_rate_increase":{"type":"number","minimum":0,"maximum":1},
      "max_latency_increase":{"type":"number","minimum":0,"maximum":100}}}}})json";
}

double Number(const json::object& o, const char* key, double fallback) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<double>() : fallback;
}

StatusOr<experiments::ExperimentSpec> ParseSpec(const json::object& body) {
  experiments::ExperimentSpec s;
  ASSIGN_OR_RETURN(s.name, ReqString(body, "name", 200));
  ASSIGN_OR_RETURN(s.challenger, ReqString(body, "challenger", 64));
  if (const json::value* cs = body.if_contains("challenger_settings"); cs && !cs->is_null()) {
    if (!cs->is_object()) return FieldTypeError("challenger_settings", "an object");
    s.challenger_settings = cs->as_object();
  }
  ASSIGN_OR_RETURN(auto control, OptString(body, "control", 64));
  s.control = control.value_or("");
  s.traffic_share = Number(body, "traffic_share", s.traffic_share);
  ASSIGN_OR_RETURN(auto metric, OptString(body, "metric", 32));
  if (metric) {
    auto m = experiments::ParseMetric(*metric);
    if (!m) return FieldValueError("metric", "metric must be ctr, conversion or revenue_per_user");
    s.metric = *m;
  }
  ASSIGN_OR_RETURN(auto min_sample, OptInt(body, "min_sample", 1, 1'000'000'000));
  s.min_sample = min_sample.value_or(s.min_sample);
  s.confidence = Number(body, "confidence", s.confidence);
  if (const json::value* r = body.if_contains("rollout"); r && r->is_array()) {
    s.rollout.clear();
    for (const auto& x : r->as_array()) {
      if (!x.is_number()) return FieldTypeError("rollout", "an array of numbers");
      s.rollout.push_back(x.to_number<double>());
    }
  }
  ASSIGN_OR_RETURN(auto days, OptInt(body, "max_duration_days", 1, 365));
  s.max_duration_days = days.value_or(s.max_duration_days);
  ASSIGN_OR_RETURN(auto promote, OptBool(body, "promote_if_inconclusive"));
  s.promote_if_inconclusive = promote.value_or(false);
  if (const json::value* g = body.if_contains("guardrails"); g && g->is_object()) {
    s.max_error_rate_increase = Number(g->as_object(), "max_error_rate_increase", s.max_error_rate_increase);
    s.max_latency_increase = Number(g->as_object(), "max_latency_increase", s.max_latency_increase);
  }
  return s;  // validated by the service (experiments::Validate)
}

// The experiment as answered: its figures, and what their revenue is in
// (settings.currency) when the shop names it.
json::object Shown(const experiments::Experiment& e, const TenantRules& rules) {
  json::object out = e.ToJson();
  if (!rules.currency.empty()) out["currency"] = rules.currency;
  return out;
}

http::Param ExperimentId() { return schema::Path("experiment_id", 64, "the experiment's id"); }

}  // namespace

void RegisterExperimentRoutes(TenantRoutes& routes) {
  using http::Role;
  const Needs read{.any = auth::kModelsTrain | auth::kModelsRead | auth::kAnalyticsRead};
  const Needs write{.all = auth::kModelsTrain};

  http::RouteInfo create{"POST", "/api/v1/experiments",
                         "Start an experiment: a share of users served by a challenger version, decided by a "
                         "sequential test, rolled out step by step or rolled back",
                         "experiments", Role::kMlEngine};
  create.slow = true;  // loads the challenger's model
  create.body_schema = CreateSchema();
  create.replies = {schema::Reply(201, "the experiment", kExperiment)};
  create.errors = {404, 409};
  routes.AddJson(create, write,
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
                   ASSIGN_OR_RETURN(auto spec, ParseSpec(body));
                   ASSIGN_OR_RETURN(auto e, ctx.CreateExperiment(std::move(spec)));
                   ASSIGN_OR_RETURN(auto rules, ctx.Rules());
                   return JsonAnswer(201, Shown(e, rules));
                 });

  http::RouteInfo list{"GET", "/api/v1/experiments", "The tenant's experiments, newest first (?limit)",
                       "experiments", Role::kMlEngine};
  list.params = {schema::QueryInt("limit", 1, 500, "experiments to list (default 50)")};
  list.replies = {schema::Reply(200, "the experiments",
                                std::string(R"({"type":"object","required":["experiments","count"],"properties":{"experiments":{"type":"array","items":)") +
                                    kExperiment + R"(},"count":{"type":"integer"}}})")};
  routes.Add(list, read, [](const Request& req, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 50, 1, 500));
    ASSIGN_OR_RETURN(auto all, ctx.Experiments(static_cast<int>(limit)));
    json::array out;
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    for (const auto& e : all) out.push_back(Shown(e, rules));
    const auto n = static_cast<int64_t>(out.size());
    return JsonAnswer(200, json::object{{"experiments", std::move(out)}, {"count", n}});
  });

  http::RouteInfo get{"GET", "/api/v1/experiments/{experiment_id}",
                      "An experiment: per-arm users, impressions, clicks, conversions, revenue, the test "
                      "statistic, its always-valid p-value, the decision and the history",
                      "experiments", Role::kMlEngine};
  get.params = {ExperimentId()};
  get.replies = {schema::Reply(200, "the experiment, its figures as they stand", kExperiment)};
  get.errors = {404};
  routes.Add(get, read, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(auto e, ctx.GetExperiment(p.Get("experiment_id")));
    ASSIGN_OR_RETURN(auto rules, ctx.Rules());
    return JsonAnswer(200, Shown(e, rules));
  });

  for (const char* action : {"promote", "abort"}) {
    const bool promote = std::string_view(action) == "promote";
    http::RouteInfo r{"POST", std::string("/api/v1/experiments/{experiment_id}/") + action,
                      promote ? "Promote the challenger now: deploy it for everybody"
                              : "Abort the experiment: the control serves everybody again",
                      "experiments", Role::kMlEngine};
    r.slow = true;  // deploys or splits: loads a model
    r.params = {ExperimentId()};
    r.replies = {schema::Reply(200, "the experiment, ended", kExperiment)};
    r.errors = {404, 409};
    routes.Add(r, write, [promote](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
      const std::string id = p.Get("experiment_id");
      ASSIGN_OR_RETURN(auto e, promote ? ctx.PromoteExperiment(id) : ctx.AbortExperiment(id));
      ASSIGN_OR_RETURN(auto rules, ctx.Rules());
      return JsonAnswer(200, Shown(e, rules));
    });
  }
}

}  // namespace embedrec::api
