// /api/v1/upload/{items,interactions} and /api/v1/data/uploads: the request
// (multipart/form-data or a raw CSV body, optionally gzip or zstd) handed
// to the ingest service (ingest/ingest_service.h) as a stream; uploads and
// events listed.
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "api/call.h"
#include "api/json_body.h"
#include "api/schemas.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "ingest/ingest_service.h"
#include "ingest/upload_progress.h"
#include "ingest/multipart.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

// Where the CSV is in the request: the body itself, or a multipart part.
struct CsvInput {
  std::unique_ptr<ingest::MultipartReader> multipart;
  ByteSource* source = nullptr;
  std::string file_name;
};

// A tenant_id form field must name the request's tenant.
Status CheckTenantField(CsvInput& in, const TenantContext& ctx) {
  ASSIGN_OR_RETURN(std::string named, in.multipart->ReadAll(64));
  named = std::string(Trim(named));
  if (named.empty() || named == ctx.tenant_id()) return Status::Ok();
  RETURN_IF_ERROR(ctx.who().ResolveTenant(named).status());  // a tenant's credential: tenant_mismatch
  return Status::InvalidArgument("the tenant_id field names another tenant than ?tenant_id",
                                 {{"field", "tenant_id"}});
}

StatusOr<CsvInput> LocateCsv(const Request& req, ByteSource* body, const TenantContext& ctx) {
  CsvInput in;
  std::string_view ctype = req.Header("content-type");
  if (auto boundary = ingest::MultipartBoundary(ctype)) {
    in.multipart = std::make_unique<ingest::MultipartReader>(body, *boundary);
    ingest::MultipartReader::Part part;
    while (true) {
      ASSIGN_OR_RETURN(bool more, in.multipart->NextPart(&part));
      if (!more) {
        return Status::InvalidArgument("the multipart body has no 'file' part",
                                       {{"field", "file"}});
      }
      if (part.name == "tenant_id") {
        RETURN_IF_ERROR(CheckTenantField(in, ctx));
      } else if (part.name == "file") {
        in.source = in.multipart.get();
        in.file_name = part.filename;
        return in;
      }
    }
  }
  std::string media = AsciiLower(Trim(ctype.substr(0, ctype.find(';'))));
  if (!media.empty() && media != "text/csv" && media != "application/csv" &&
      media != "text/plain" && media != "application/octet-stream" &&
      media != "application/gzip" && media != "application/zstd") {
    return Status(StatusCode::kInvalidArgument,
                  "send the CSV as multipart/form-data with a 'file' part, or as a text/csv body",
                  "unsupported_media_type", {{"content_type", std::string(ctype.substr(0, 100))}});
  }
  in.source = body;
  in.file_name = req.Query("filename").value_or("");
  return in;
}

// Reads the parts after the file: a tenant_id field may come last.
Status CheckTrailingParts(CsvInput& in, const TenantContext& ctx) {
  if (!in.multipart) return Status::Ok();
  ingest::MultipartReader::Part part;
  while (true) {
    ASSIGN_OR_RETURN(bool more, in.multipart->NextPart(&part));
    if (!more) return Status::Ok();
    if (part.name == "tenant_id") RETURN_IF_ERROR(CheckTenantField(in, ctx));
  }
}

// The CSV of the request as the ingest service reads it: the body or the
// multipart 'file' part, its compression, and the trailing parts checked
// once the file is read.
StatusOr<http::Response> Upload(const Request& req, const TenantContext& ctx,
                                const std::function<StatusOr<json::object>(ingest::UploadSource)>& run) {
  // Admitted against the tenant's limits; the body capped at what it may still store.
  ASSIGN_OR_RETURN(auto slot, ctx.AdmitUpload());
  ByteSource* body = req.body_stream.get();
  std::unique_ptr<ByteSource> capped;
  if (slot && slot->max_bytes() > 0) {
    const std::string max = std::to_string(slot->max_bytes());
    capped = NewLimitedSource(body, static_cast<uint64_t>(slot->max_bytes()),
                              Status(StatusCode::kPayloadTooLarge,
                                     "the upload is larger than the " + max +
                                         " bytes the tenant's limits (settings.limits: max_upload_bytes, "
                                         "max_storage_bytes) leave it",
                                     "upload_quota_exceeded", {{"limit_bytes", max}}));
    body = capped.get();
  }
  ASSIGN_OR_RETURN(CsvInput input, LocateCsv(req, body, ctx));
  ingest::UploadSource source;
  source.bytes = input.source;
  source.compression = ingest::DetectCompression(req.Header("content-encoding"), input.file_name);
  source.after_read = [&] { return CheckTrailingParts(input, ctx); };
  const std::string_view asked = req.Header("x-upload-progress");
  std::string id;
  auto last = std::make_shared<ingest::UploadProgress>();
  if (!asked.empty() && asked.size() <= 64) {
    id = std::string(asked);
    ctx.SetUploadProgress(id, {});
    source.progress = [&ctx, id, last](int64_t bytes, int64_t lines, bool) {
      *last = {bytes, lines, false};
      ctx.SetUploadProgress(id, *last);
    };
  }
  auto result = run(std::move(source));
  if (!id.empty()) ctx.SetUploadProgress(id, {last->bytes, last->lines, true});
  if (!result.ok()) return result.status();
  return JsonAnswer(200, *result);
}

StatusOr<http::Response> UploadItems(const Request& req, const TenantContext& ctx) {
  std::string mode = req.Query("mode").value_or("upsert");
  if (mode != "upsert" && mode != "replace") {
    return FieldValueError("mode", "mode must be 'upsert' (default) or 'replace'");
  }
  return Upload(req, ctx, [&](ingest::UploadSource source) {
    return ctx.UploadItems(std::move(source),
                           mode == "replace" ? ingest::ItemsMode::kReplace : ingest::ItemsMode::kUpsert);
  });
}

StatusOr<http::Response> UploadInteractions(const Request& req, const TenantContext& ctx) {
  return Upload(req, ctx, [&](ingest::UploadSource source) { return ctx.UploadInteractions(std::move(source)); });
}

// {"uploads": [...]}: past uploads with their results, newest first.
StatusOr<http::Response> ListUploads(const TenantContext& ctx) {
  ASSIGN_OR_RETURN(auto tenant, ctx.Store());
  ASSIGN_OR_RETURN(auto uploads, tenant->ListUploads(100));
  json::array items;
  for (const auto& u : uploads) {
    boost::system::error_code ec;
    json::value result = json::parse(u.result_json, ec);
    items.push_back(json::object{{"upload_id", u.id},
                                 {"kind", u.kind},
                                 {"created_at", FormatRfc3339(u.created_at_ms / 1000)},
                                 {"storage_location", u.storage_location},
                                 {"result", ec ? json::value(nullptr) : result}});
  }
  return JsonAnswer(200, json::object{{"uploads", std::move(items)}});
}

// {"events": [...]}: the tenant's event log after ?after=<seq>.
StatusOr<http::Response> ListEvents(const Request& req, const TenantContext& ctx) {
  ASSIGN_OR_RETURN(int64_t after, QueryInt(req, "after", 0, 0, INT64_MAX));
  ASSIGN_OR_RETURN(auto tenant, ctx.Store());
  ASSIGN_OR_RETURN(auto evs, tenant->ReadEvents(after, 1000));
  json::array items;
  for (const auto& e : evs) {
    boost::system::error_code ec;
    json::value payload = json::parse(e.payload_json, ec);
    items.push_back(json::object{{"seq", e.seq},
                                 {"topic", e.topic},
                                 {"created_at", FormatRfc3339Millis(e.created_at_ms)},
                                 {"payload", ec ? json::value(nullptr) : payload}});
  }
  return JsonAnswer(200, json::object{{"events", std::move(items)}});
}

// An upload's answer (ingest/ingest_service.h).
constexpr const char* kUploadResult = R"({"type":"object",
  "required":["upload_id","status","rows_accepted","rows_rejected","duplicates_removed","validation_errors","storage_location"],
  "properties":{"upload_id":{"type":"string"},"status":{"type":"string","enum":["success","failed"],"description":"failed when every row was rejected"},
  "rows_accepted":{"type":"integer"},"rows_rejected":{"type":"integer"},"duplicates_removed":{"type":"integer"},
  "validation_errors":{"type":"array","items":{"type":"object","properties":{"row":{"type":"integer"},"error":{"type":"string"}}}},
  "validation_errors_not_listed":{"type":"integer"},"extra_columns":{"type":"array","items":{"type":"string"}},
  "csv_delimiter":{"type":"string","description":"what separated the fields: a comma, or a semicolon, tab or bar told by the header line"},
  "timestamps_read_as_utc":{"type":"integer","description":"rows whose timestamp had no zone, read as UTC; absent when none"},
  "currency":{"type":"string","description":"the currency sign or code written with the file's prices, as written (not converted: rows in another are refused); absent when none"},
  "storage_location":{"type":"string"},"statistics":{"type":"object"}}})";

void DeclareUpload(http::RouteInfo& r, uint64_t max_upload_bytes) {
  r.stream_body = true;
  r.body_limit = max_upload_bytes;
  r.body_media = {"multipart/form-data", "text/csv"};
  r.params.push_back(schema::QueryString("filename", 1024, "a raw body's file name (its extension tells the compression)"));
  r.params.push_back({.name = "Content-Encoding",
                      .in = http::Param::In::kHeader,
                      .schema = R"({"type":"string","maxLength":64})",
                      .description = "gzip or zstd for a compressed raw body"});
  r.replies = {schema::Reply(200, "imported (or refused row by row: see validation_errors)", kUploadResult)};
  r.errors = {403, 413, 415, 429};
}

}  // namespace

void RegisterUploadRoutes(TenantRoutes& routes, uint64_t max_upload_bytes) {
  const Needs data_write{.all = auth::kDataWrite};
  http::RouteInfo items{"POST", "/api/v1/upload/items",
                        "Upload the product catalog as CSV (multipart 'file' part or text/csv "
                        "body; gzip/zstd accepted); ?mode=upsert|replace",
                        "uploads", http::Role::kDataPipeline};
  DeclareUpload(items, max_upload_bytes);
  items.params.push_back(schema::Query("mode", R"({"type":"string","enum":["upsert","replace"]})",
                                       "replace: items not in the file are deleted (default upsert)"));
  routes.Add(items, data_write, [](const Request& req, const PathParams&, TenantContext& ctx) {
    return UploadItems(req, ctx);
  });

  http::RouteInfo inter{"POST", "/api/v1/upload/interactions",
                        "Upload interaction history as CSV (multipart 'file' part or text/csv body; "
                        "gzip/zstd accepted)",
                        "uploads", http::Role::kDataPipeline};
  DeclareUpload(inter, max_upload_bytes);
  routes.Add(inter, data_write, [](const Request& req, const PathParams&, TenantContext& ctx) {
    return UploadInteractions(req, ctx);
  });

  http::RouteInfo events{"GET", "/api/v1/data/events",
                         "The tenant's event log after ?after=<seq> (item-catalog-updated, ...)", "uploads",
                         http::Role::kDataPipeline};
  events.params = {schema::QueryInt("after", 0, schema::kMaxCursor, "the last seq seen (default 0)")};
  events.replies = {schema::Reply(200, "up to 1,000 events, oldest first", R"({"type":"object","required":["events"],"properties":{
    "events":{"type":"array","items":{"type":"object","required":["seq","topic","created_at","payload"],"properties":{
    "seq":{"type":"integer"},"topic":{"type":"string"},"created_at":{"type":"string"},"payload":{"nullable":true}}}}}})")};
  routes.Add(events, data_write,
             [](const Request& req, const PathParams&, TenantContext& ctx) { return ListEvents(req, ctx); });

  http::RouteInfo progress{"GET", "/api/v1/data/uploads/progress/{progress_id}",
                           "How far an upload sent with X-Upload-Progress: <progress_id> has been read "
                           "(bytes, CSV lines), while its answer is awaited", "uploads", http::Role::kDataPipeline};
  progress.blocking = false;
  progress.params = {schema::Path("progress_id", 64, "the X-Upload-Progress header's value")};
  progress.replies = {schema::Reply(200, "the bytes and lines read so far", R"({"type":"object",
    "required":["progress_id","bytes_read","lines_read","done"],"properties":{"progress_id":{"type":"string"},
    "bytes_read":{"type":"integer"},"lines_read":{"type":"integer","description":"CSV lines read, the header included"},
    "done":{"type":"boolean"}}})")};
  progress.errors = {404};
  routes.Add(progress, data_write, [](const Request&, const PathParams& p, TenantContext& ctx) -> StatusOr<http::Response> {
    const std::string id = p.Get("progress_id");
    auto e = ctx.UploadProgressOf(id);
    if (!e) return Status::NotFound("no upload in progress with X-Upload-Progress: " + id);
    return JsonAnswer(200, json::object{{"progress_id", id}, {"bytes_read", e->bytes}, {"lines_read", e->lines},
                                        {"done", e->done}});
  });

  http::RouteInfo list{"GET", "/api/v1/data/uploads", "Past uploads with their results, newest first", "uploads",
                       http::Role::kDataPipeline};
  list.replies = {schema::Reply(200, "the latest 100 uploads", R"({"type":"object","required":["uploads"],"properties":{
    "uploads":{"type":"array","items":{"type":"object","required":["upload_id","kind","created_at","storage_location","result"],
    "properties":{"upload_id":{"type":"string"},"kind":{"type":"string","enum":["items","interactions"]},
    "created_at":{"type":"string"},"storage_location":{"type":"string"},"result":{"type":"object","nullable":true}}}}}})")};
  routes.Add(list, data_write, [](const Request&, const PathParams&, TenantContext& ctx) { return ListUploads(ctx); });
}

}  // namespace embedrec::api
