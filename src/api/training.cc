// Training jobs (ML engine port): POST /api/v1/train, progress, list,
// cancel, and live progress as Server-Sent Events.
#include <boost/json/parse.hpp>
#include <cmath>
#include <mutex>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "http/errors.h"
#include "training/training_service.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

// One SSE stream of a job's progress. The subscription may deliver
// documents before the stream is attached (the response is still on its
// way): they wait here.
class ProgressEvents {
 public:
  void Send(const std::string& doc, bool final) {
    std::string event = std::string("event: ") + (final ? "end" : "progress") + "\ndata: " + doc + "\n\n";
    std::lock_guard lock(mu_);
    final_ = final_ || final;
    if (!stream_) {
      pending_.push_back(std::move(event));
      return;
    }
    stream_->Write(std::move(event));
    if (final) stream_->Close();
  }
  void Attach(std::shared_ptr<http::ResponseStream> s) {
    std::lock_guard lock(mu_);
    stream_ = std::move(s);
    for (auto& e : pending_) stream_->Write(std::move(e));
    pending_.clear();
    if (final_) stream_->Close();
  }

 private:
  std::mutex mu_;
  std::shared_ptr<http::ResponseStream> stream_;
  std::vector<std::string> pending_;
  bool final_ = false;
};

// A job's progress document (the training service writes it; fields grow as the job runs).
constexpr const char* kJobDoc = R"({"type":"object","required":["job_id","status","progress","model_type","training_mode"],
  "properties":{"job_id":{"type":"string"},
  "status":{"type":"string","enum":["queued","started","loading_data","training","evaluating","building_index","deploying","completed","failed","cancelled"]},
  "progress":{"type":"number","minimum":0,"maximum":1},"model_type":{"type":"string"},"training_mode":{"type":"string"},
  "current_epoch":{"type":"integer"},"total_epochs":{"type":"integer"},"metrics":{"type":"object"},
  "curve":{"type":"array","description":"the fit by epoch: epoch, train_loss, val_ndcg@10 where validated; a long fit thinned to a few hundred points",
    "items":{"type":"object","properties":{"epoch":{"type":"integer"},"train_loss":{"type":"number"},"val_ndcg@10":{"type":"number"}}}},
  "model_version":{"type":"string"},"estimated_duration_seconds":{"type":"number"},
  "estimated_phase_seconds":{"type":"object","additionalProperties":{"type":"number"},"description":"the estimate at submission, by step"},
  "phase_seconds":{"type":"object","additionalProperties":{"type":"number"},"description":"seconds each step took (a completed job): loading, fit, validation, refit, index, storing"},
  "fit_evaluation_seconds":{"type":"number","description":"of the fit's seconds, those its periodic validations took"},
  "error":{"type":"object","properties":{"reason":{"type":"string"},"message":{"type":"string"}}}}})";

http::Param JobId() { return schema::Path("job_id", 64, "the job's id (POST /api/v1/train answered it)"); }

}  // namespace

void RegisterTrainingRoutes(TenantRoutes& routes) {
  using http::Role;
  const Needs read{.any = auth::kModelsTrain | auth::kModelsRead};

  http::RouteInfo train{"POST", "/api/v1/train",
                        "Start a training job (model_type, training_mode, auto_deploy, hyperparameters)",
                        "training", Role::kMlEngine};
  train.slow = true;  // counts the tenant's interactions (a scan) to plan the job
  train.body_schema = training::JobRequestSchema();
  train.replies = {schema::Reply(202, "the job, queued or started", R"({"type":"object",
    "required":["job_id","status","estimated_duration_seconds","queue_position","model_type","training_mode","hyperparameters","progress_url","events_url"],
    "properties":{"job_id":{"type":"string"},"status":{"type":"string","enum":["queued","started"]},
    "estimated_duration_minutes":{"type":"number"},"estimated_duration_seconds":{"type":"number"},
    "estimated_phase_seconds":{"type":"object","additionalProperties":{"type":"number"},
      "description":"the estimate by step: loading, fit, validation, refit (with a validation split), index, storing"},
    "queue_position":{"type":"integer"},"model_type":{"type":"string"},"training_mode":{"type":"string"},
    "hyperparameters":{"type":"object"},"progress_url":{"type":"string"},"events_url":{"type":"string"}}})")};
  train.errors = {409};
  routes.AddJson(train, {.all = auth::kModelsTrain},
                 [](const Request&, const PathParams&, TenantContext& ctx,
                    const json::object& body) -> StatusOr<http::Response> {
    ASSIGN_OR_RETURN(auto tenant, ctx.Record());
    ASSIGN_OR_RETURN(training::JobRequest job, training::ParseJobRequest(body, tenant.settings_json));
    ASSIGN_OR_RETURN(training::Submitted s, ctx.Train(job));
    const double minutes = std::ceil(s.estimated_seconds / 60.0 * 100) / 100;
    return JsonAnswer(202, json::object{
        {"job_id", s.job_id},
        {"status", s.status},
        {"estimated_duration_minutes", minutes},
        {"estimated_duration_seconds", std::round(s.estimated_seconds * 10) / 10},
        {"estimated_phase_seconds", s.estimated_steps},
        {"queue_position", s.queue_position},
        {"model_type", training::ModelChoiceName(job.model_type)},
        {"training_mode", job.mode},
        {"hyperparameters", training::HyperparametersJson(s.request)},
        {"progress_url", "/api/v1/training/" + s.job_id + "/progress"},
        {"events_url", "/api/v1/training/" + s.job_id + "/events"}});
  });

  http::RouteInfo progress{"GET", "/api/v1/training/{job_id}/progress", "A training job's progress and result",
                           "training", Role::kMlEngine};
  progress.params = {JobId()};
  progress.replies = {schema::Reply(200, "the job's progress document", kJobDoc)};
  progress.errors = {404};
  routes.Add(progress, read, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::string doc, ctx.JobProgress(p.Get("job_id")));
               return http::JsonResponse(200, std::move(doc));
             });

  http::RouteInfo list{"GET", "/api/v1/training", "The tenant's training jobs, newest first (?limit)", "training",
                       Role::kMlEngine};
  list.params = {schema::QueryInt("limit", 1, 500, "jobs to list (default 50)")};
  list.replies = {schema::Reply(200, "the jobs' progress documents",
                                std::string(R"({"type":"object","required":["jobs","count"],"properties":{"jobs":{"type":"array","items":)") +
                                    kJobDoc + R"(},"count":{"type":"integer"}}})")};
  routes.Add(list, read, [](const Request& req, const PathParams&, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 50, 1, 500));
               ASSIGN_OR_RETURN(auto docs, ctx.Jobs(static_cast<int>(limit)));
               std::string body = "{\"jobs\":[";
               for (size_t i = 0; i < docs.size(); ++i) body += (i ? "," : "") + docs[i];
               body += "],\"count\":" + std::to_string(docs.size()) + "}";
               return http::JsonResponse(200, std::move(body));
             });

  http::RouteInfo cancel{"POST", "/api/v1/training/{job_id}/cancel", "Cancel a queued or running training job",
                         "training", Role::kMlEngine};
  cancel.params = {JobId()};
  cancel.replies = {schema::Reply(202, "cancelling: the job's progress document", kJobDoc)};
  cancel.errors = {404, 409};
  routes.Add(cancel, {.all = auth::kModelsTrain},
             [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::string doc, ctx.CancelJob(p.Get("job_id")));
               return http::JsonResponse(202, std::move(doc));
             });

  http::RouteInfo events{"GET", "/api/v1/training/{job_id}/events",
                         "A training job's progress as Server-Sent Events (progress…, then end)", "training",
                         Role::kMlEngine};
  events.params = {JobId()};
  events.replies = {{.status = 200, .description = "event: progress / end, data: the progress document",
                     .media = "text/event-stream"}};
  events.errors = {404};
  routes.Add(events, read, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
               auto events = std::make_shared<ProgressEvents>();
               ASSIGN_OR_RETURN(auto sub, ctx.WatchJob(p.Get("job_id"),
                                                       [events](const std::string& doc, bool final) {
                                                         events->Send(doc, final);
                                                       }));
               std::shared_ptr<training::Subscription> shared(std::move(sub));
               http::Response r;
               r.content_type = "text/event-stream";
               r.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
               r.heartbeat = ": keep-alive\n\n";
               r.stream = [events, shared](std::shared_ptr<http::ResponseStream> s) mutable {
                 events->Attach(s);
                 // The subscription lives as long as the stream.
                 s->OnEnd([shared]() mutable { shared.reset(); });
               };
               return r;
             });
}

}  // namespace embedrec::api
