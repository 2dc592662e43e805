// /api/v1/upload/{items,interactions} and /api/v1/data/uploads: bulk data
// into a tenant's space, streamed (multipart/form-data or a raw CSV body,
// optionally gzip or zstd), validated row by row, committed atomically, and
// archived zstd-compressed in the tenant's blob area.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <set>

#include "api/call.h"
#include "common/json_text.h"
#include "serving/activity.h"
#include "serving/catalog.h"
#include "api/json_body.h"
#include "common/random.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "http/errors.h"
#include "ingest/compression.h"
#include "ingest/interaction_import.h"
#include "ingest/item_import.h"
#include "ingest/multipart.h"

namespace embedrec::api {
namespace json = boost::json;
using http::PathParams;
using http::Request;

namespace {

json::object ResultJson(const ingest::ImportResult& r) {
  json::array errors;
  for (const auto& e : r.errors) {
    json::object o{{"row", e.row}, {"error", e.error}};
    if (!e.item_id.empty()) o["item_id"] = e.item_id;
    if (!e.user_id.empty()) o["user_id"] = e.user_id;
    errors.push_back(std::move(o));
  }
  json::array extra;
  for (const auto& c : r.extra_columns) extra.push_back(json::string(c));
  return json::object{{"status", "success"},
                      {"rows_accepted", r.rows_accepted},
                      {"rows_rejected", r.rows_rejected},
                      {"duplicates_removed", r.duplicates_removed},
                      {"validation_errors", std::move(errors)},
                      {"validation_errors_not_listed", r.errors_not_listed},
                      {"extra_columns", std::move(extra)}};
}

// Where the CSV is in the request: the body itself, or a multipart part.
struct CsvInput {
  std::unique_ptr<ingest::MultipartReader> multipart;
  ByteSource* source = nullptr;
  std::string file_name;
};

StatusOr<CsvInput> LocateCsv(const Request& req, const auth::Principal& who) {
  CsvInput in;
  std::string_view ctype = req.Header("content-type");
  if (auto boundary = ingest::MultipartBoundary(ctype)) {
    in.multipart = std::make_unique<ingest::MultipartReader>(req.body_stream.get(), *boundary);
    ingest::MultipartReader::Part part;
    while (true) {
      ASSIGN_OR_RETURN(bool more, in.multipart->NextPart(&part));
      if (!more) {
        return Status::InvalidArgument("the multipart body has no 'file' part",
                                       {{"field", "file"}});
      }
      if (part.name == "tenant_id") {
        ASSIGN_OR_RETURN(std::string tid, in.multipart->ReadAll(64));
        RETURN_IF_ERROR(who.ResolveTenant(std::string(Trim(tid))).status());
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
  in.source = req.body_stream.get();
  in.file_name = req.Query("filename").value_or("");
  return in;
}

// Reads the parts after the file: a tenant_id field may come last.
Status CheckTrailingParts(CsvInput& in, const auth::Principal& who) {
  if (!in.multipart) return Status::Ok();
  ingest::MultipartReader::Part part;
  while (true) {
    ASSIGN_OR_RETURN(bool more, in.multipart->NextPart(&part));
    if (!more) return Status::Ok();
    if (part.name == "tenant_id") {
      ASSIGN_OR_RETURN(std::string tid, in.multipart->ReadAll(64));
      RETURN_IF_ERROR(who.ResolveTenant(std::string(Trim(tid))).status());
    }
  }
}

// What differs between the two uploads: how rows are imported, what the
// answer adds, and which event announces the upload.
struct UploadKind {
  const char* name;   // "items" | "interactions"
  const char* topic;  // event appended on success
  // Imports rows from `csv` into the batch `begin` opens (taking the
  // tenant's write lock: as late as the importer can); may add fields to
  // `answer`.
  std::function<StatusOr<ingest::ImportResult>(ByteSource* csv, const ingest::BeginBatch& begin,
                                               const std::string& upload_id, int64_t now,
                                               json::object* answer)>
      import;
};

StatusOr<http::Response> RunUpload(const Deps& d, const Request& req, const auth::Principal& who,
                                   const std::string& tid, const UploadKind& kind) {
  ASSIGN_OR_RETURN(auto tenant, d.tenants->Open(tid));
  ASSIGN_OR_RETURN(auto blobs, d.open_blobs(tid));
  ASSIGN_OR_RETURN(CsvInput input, LocateCsv(req, who));
  auto compression = ingest::DetectCompression(req.Header("content-encoding"), input.file_name);
  auto csv = ingest::NewDecompressingSource(input.source, compression);

  int64_t now = d.clock->NowMillis();
  std::string upload_id = NewId("upl");
  std::string day = FormatRfc3339(now / 1000).substr(0, 10);
  day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  std::string key = std::string("uploads/") + kind.name + "_" + day + "_" + upload_id + ".csv.zst";
  ASSIGN_OR_RETURN(auto archive, blobs->OpenWriter(key));
  // Level 1: the archive must not slow the import; it still shrinks CSV ~5x.
  ingest::ZstdStreamCompressor zstd([&](std::string_view b) { return archive->Append(b); }, 1);
  auto tee = NewTeeSource(csv.get(), [&](std::string_view b) { return zstd.Write(b); });
  // Network reads, decompression and the archive on one core, parsing on the other.
  auto ahead = NewReadAheadSource(tee.get());

  std::unique_ptr<store::ImportBatch> batch;
  ingest::BeginBatch begin = [&]() -> StatusOr<store::ImportBatch*> {
    if (!batch) {
      ASSIGN_OR_RETURN(batch, tenant->BeginImport());
    }
    return batch.get();
  };
  json::object extra;
  ASSIGN_OR_RETURN(ingest::ImportResult result,
                   kind.import(ahead.get(), begin, upload_id, now, &extra));
  RETURN_IF_ERROR(begin().status());
  RETURN_IF_ERROR(CheckTrailingParts(input, who));
  RETURN_IF_ERROR(zstd.Finish());
  RETURN_IF_ERROR(archive->Commit());  // before the rows: an orphan archive is harmless

  json::object answer = ResultJson(result);
  answer["upload_id"] = upload_id;
  answer["storage_location"] = blobs->Location(key);
  for (auto& [k, v] : extra) answer[k] = v;
  std::string answer_text = JsonText(answer);
  RETURN_IF_ERROR(batch->RecordUpload({upload_id, kind.name, now, blobs->Location(key), answer_text}));
  json::object event{{"upload_id", upload_id}, {"rows_accepted", result.rows_accepted}};
  for (auto& [k, v] : extra) event[k] = v;
  RETURN_IF_ERROR(batch->AppendEvent(kind.topic, JsonText(event), now));
  RETURN_IF_ERROR(batch->Commit());
  // Serving reads the new catalog and history from now on.
  if (d.catalog) d.catalog->Invalidate(tid);
  if (d.activity) d.activity->DataChanged(tid);
  spdlog::info("tenant {}: {} upload {} accepted {} rejected {} duplicates {}", tid, kind.name,
               upload_id, result.rows_accepted, result.rows_rejected, result.duplicates_removed);
  return http::JsonResponse(200, std::move(answer_text));
}

StatusOr<http::Response> UploadItems(const Deps& d, const Request& req, const auth::Principal& who) {
  ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
  std::string mode = req.Query("mode").value_or("upsert");
  if (mode != "upsert" && mode != "replace") {
    return FieldValueError("mode", "mode must be 'upsert' (default) or 'replace'");
  }
  UploadKind kind{"items", "item-catalog-updated",
                  [&](ByteSource* csv, const ingest::BeginBatch& begin, const std::string&,
                      int64_t now, json::object* answer) -> StatusOr<ingest::ImportResult> {
                    ASSIGN_OR_RETURN(store::ImportBatch * batch, begin());
                    ASSIGN_OR_RETURN(auto result, ingest::ImportItemsCsv(csv, batch, now));
                    (*answer)["mode"] = mode;
                    if (mode == "replace") {
                      ASSIGN_OR_RETURN(int64_t deleted, batch->DeleteItemsNotUpserted(now));
                      (*answer)["items_deleted"] = deleted;
                    }
                    return result;
                  }};
  return RunUpload(d, req, who, tid, kind);
}

StatusOr<http::Response> UploadInteractions(const Deps& d, const Request& req,
                                            const auth::Principal& who) {
  ASSIGN_OR_RETURN(std::string tid, who.ResolveTenant(req.Query("tenant_id").value_or("")));
  ASSIGN_OR_RETURN(auto rules, d.settings->Rules(tid));
  ASSIGN_OR_RETURN(auto tenant, d.tenants->Open(tid));
  UploadKind kind{"interactions", "interactions-uploaded",
                  [&](ByteSource* csv, const ingest::BeginBatch& begin,
                      const std::string& upload_id, int64_t now,
                      json::object* answer) -> StatusOr<ingest::ImportResult> {
                    ingest::InteractionImportOptions opt;
                    opt.custom_types = rules.custom_types;
                    opt.now_ms = now;
                    opt.spill_dir = d.data_dir + "/tmp";
                    ingest::IdSnapshot ids;
                    ASSIGN_OR_RETURN(ids.items, tenant->LoadItemIndex());
                    ASSIGN_OR_RETURN(ids.users, tenant->LoadUserIndex());
                    ingest::InteractionStats st;
                    ASSIGN_OR_RETURN(auto result,
                                     ingest::ImportInteractionsCsv(csv, ids, begin, opt, &st));
                    spdlog::info("tenant {}: upload {} read {:.2f} s ({} sorted runs spilled), "
                                 "wrote {:.2f} s under the write lock",
                                 tid, upload_id, st.read_seconds, st.runs_spilled,
                                 st.write_seconds);
                    json::object types;
                    for (const auto& [t, n] : st.types) types[t] = n;
                    json::object range;
                    if (st.max_ts_ms > 0) {
                      range["start"] = FormatRfc3339Millis(st.min_ts_ms);
                      range["end"] = FormatRfc3339Millis(st.max_ts_ms);
                    }
                    (*answer)["statistics"] = json::object{{"unique_users", st.unique_users},
                                                           {"unique_items", st.unique_items},
                                                           {"interaction_types", std::move(types)},
                                                           {"time_range", std::move(range)}};
                    return result;
                  }};
  return RunUpload(d, req, who, tid, kind);
}

}  // namespace

void RegisterUploadRoutes(http::Router& router, const Deps& deps) {
  const Deps* d = &deps;

  http::RouteInfo items{"POST", "/api/v1/upload/items",
                        "Upload the product catalog as CSV (multipart 'file' part or text/csv "
                        "body; gzip/zstd accepted); ?mode=upsert|replace",
                        "uploads", http::Role::kDataPipeline};
  items.stream_body = true;
  items.body_limit = deps.max_upload_bytes;
  router.Add(items, Authed(deps, auth::kDataWrite,
                           [d](const Request& req, const PathParams&,
                               const auth::Principal& who) { return UploadItems(*d, req, who); }));

  http::RouteInfo inter{"POST", "/api/v1/upload/interactions",
                        "Upload interaction history as CSV (multipart 'file' part or text/csv body; "
                        "gzip/zstd accepted)",
                        "uploads", http::Role::kDataPipeline};
  inter.stream_body = true;
  inter.body_limit = deps.max_upload_bytes;
  router.Add(inter, Authed(deps, auth::kDataWrite,
                           [d](const Request& req, const PathParams&, const auth::Principal& who) {
                             return UploadInteractions(*d, req, who);
                           }));

  http::RouteInfo events{"GET", "/api/v1/data/events",
                         "The tenant's event log after ?after=<seq> (item-catalog-updated, ...)",
                         "uploads", http::Role::kDataPipeline};
  router.Add(events, Authed(deps, auth::kDataWrite,
                            [d](const Request& req, const PathParams&,
                                const auth::Principal& who) -> StatusOr<http::Response> {
                              ASSIGN_OR_RETURN(std::string tid,
                                               who.ResolveTenant(req.Query("tenant_id").value_or("")));
                              ASSIGN_OR_RETURN(int64_t after,
                                               QueryInt(req, "after", 0, 0, INT64_MAX));
                              ASSIGN_OR_RETURN(auto tenant, d->tenants->Open(tid));
                              ASSIGN_OR_RETURN(auto evs, tenant->ReadEvents(after, 1000));
                              json::array items;
                              for (const auto& e : evs) {
                                boost::system::error_code ec;
                                json::value payload = json::parse(e.payload_json, ec);
                                items.push_back(json::object{
                                    {"seq", e.seq},
                                    {"topic", e.topic},
                                    {"created_at", FormatRfc3339Millis(e.created_at_ms)},
                                    {"payload", ec ? json::value(nullptr) : payload}});
                              }
                              return JsonAnswer(200, json::object{{"events", std::move(items)}});
                            }));

  http::RouteInfo list{"GET", "/api/v1/data/uploads", "Past uploads with their results, newest first",
                       "uploads", http::Role::kDataPipeline};
  router.Add(list, Authed(deps, auth::kDataWrite,
                          [d](const Request& req, const PathParams&,
                              const auth::Principal& who) -> StatusOr<http::Response> {
                            ASSIGN_OR_RETURN(std::string tid,
                                             who.ResolveTenant(req.Query("tenant_id").value_or("")));
                            ASSIGN_OR_RETURN(auto tenant, d->tenants->Open(tid));
                            ASSIGN_OR_RETURN(auto uploads, tenant->ListUploads(100));
                            json::array items;
                            for (const auto& u : uploads) {
                              boost::system::error_code ec;
                              json::value result = json::parse(u.result_json, ec);
                              items.push_back(json::object{
                                  {"upload_id", u.id},
                                  {"kind", u.kind},
                                  {"created_at", FormatRfc3339(u.created_at_ms / 1000)},
                                  {"storage_location", u.storage_location},
                                  {"result", ec ? json::value(nullptr) : result}});
                            }
                            return JsonAnswer(200, json::object{{"uploads", std::move(items)}});
                          }));
}

}  // namespace embedrec::api
