#include "ingest/ingest_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/json_text.h"
#include "common/random.h"
#include "common/time_format.h"
#include "ingest/interaction_import.h"
#include "ingest/item_import.h"

namespace embedrec::ingest {
namespace json = boost::json;

namespace {

json::object ResultJson(const ImportResult& r) {
  json::array errors;
  for (const auto& e : r.errors) {
    json::object o{{"row", e.row}, {"error", e.error}};
    if (!e.item_id.empty()) o["item_id"] = e.item_id;
    if (!e.user_id.empty()) o["user_id"] = e.user_id;
    errors.push_back(std::move(o));
  }
  json::array extra;
  for (const auto& c : r.extra_columns) extra.push_back(json::string(c));
  // "failed" when every row was rejected (nothing stored); "success" otherwise,
  // rejected rows listed (the contract's answer to a partly valid file).
  const bool failed = r.rows_accepted == 0 && r.rows_rejected > 0;
  json::object out{{"status", failed ? "failed" : "success"},
                   {"rows_accepted", r.rows_accepted},
                   {"rows_rejected", r.rows_rejected},
                   {"duplicates_removed", r.duplicates_removed},
                   {"validation_errors", std::move(errors)},
                   {"validation_errors_not_listed", r.errors_not_listed},
                   {"extra_columns", std::move(extra)},
                   {"csv_delimiter", std::string(1, r.delimiter)}};
  if (r.timestamps_read_as_utc > 0) out["timestamps_read_as_utc"] = r.timestamps_read_as_utc;
  if (!r.currency.empty()) out["currency"] = r.currency;
  return out;
}

}  // namespace

// What differs between the two uploads: how rows are imported, what the
// result adds, and which event announces the upload.
struct IngestService::Kind {
  const char* name;   // "items" | "interactions"
  const char* topic;  // event appended on success
  // Imports rows from `csv` into the batch `begin` opens (taking the
  // tenant's write lock: as late as the importer can); may add fields to
  // `result`.
  std::function<StatusOr<ImportResult>(ByteSource* csv, const BeginBatch& begin, const std::string& upload_id,
                                       int64_t now, json::object* result)>
      import;
};

StatusOr<json::object> IngestService::Run(const std::string& tid, UploadSource& source, const Kind& kind) {
  ASSIGN_OR_RETURN(auto tenant, o_.tenants->Open(tid));
  ASSIGN_OR_RETURN(auto blobs, o_.open_blobs(tid));
  auto csv = NewDecompressingSource(source.bytes, source.compression);

  const int64_t now = o_.clock->NowMillis();
  const std::string upload_id = NewId("upl");
  std::string day = FormatRfc3339(now / 1000).substr(0, 10);
  day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  const std::string key = std::string("uploads/") + kind.name + "_" + day + "_" + upload_id + ".csv.zst";
  ASSIGN_OR_RETURN(auto archive, blobs->OpenWriter(key));
  // Level 1: the archive must not slow the import; it still shrinks CSV ~5x.
  ZstdStreamCompressor zstd([&](std::string_view b) { return archive->Append(b); }, 1);
  int64_t read_bytes = 0, read_lines = 0, told_at = 0;
  auto tee = NewTeeSource(csv.get(), [&](std::string_view b) {
    if (source.progress) {
      read_bytes += static_cast<int64_t>(b.size());
      read_lines += std::count(b.begin(), b.end(), '\n');
      if (read_bytes - told_at >= (int64_t{1} << 16)) {
        told_at = read_bytes;
        source.progress(read_bytes, read_lines, false);
      }
    }
    return zstd.Write(b);
  });
  // Network reads, decompression and the archive on one core, parsing on the other.
  auto ahead = NewReadAheadSource(tee.get());

  std::unique_ptr<store::ImportBatch> batch;
  BeginBatch begin = [&]() -> StatusOr<store::ImportBatch*> {
    if (!batch) {
      ASSIGN_OR_RETURN(batch, tenant->BeginImport());
    }
    return batch.get();
  };
  json::object extra;
  ASSIGN_OR_RETURN(ImportResult imported, kind.import(ahead.get(), begin, upload_id, now, &extra));
  if (source.progress) source.progress(read_bytes, read_lines, true);
  RETURN_IF_ERROR(begin().status());
  if (source.after_read) RETURN_IF_ERROR(source.after_read());
  RETURN_IF_ERROR(zstd.Finish());
  RETURN_IF_ERROR(archive->Commit());  // before the rows: an orphan archive is harmless

  json::object result = ResultJson(imported);
  result["upload_id"] = upload_id;
  result["storage_location"] = blobs->Location(key);
  for (auto& [k, v] : extra) result[k] = v;
  RETURN_IF_ERROR(batch->RecordUpload({upload_id, kind.name, now, blobs->Location(key), JsonText(result)}));
  json::object event{{"upload_id", upload_id}, {"rows_accepted", imported.rows_accepted}};
  for (auto& [k, v] : extra) event[k] = v;
  RETURN_IF_ERROR(batch->AppendEvent(kind.topic, JsonText(event), now));
  RETURN_IF_ERROR(batch->Commit());
  if (o_.data_changed) o_.data_changed(tid);
  spdlog::info("tenant {}: {} upload {} accepted {} rejected {} duplicates {}", tid, kind.name, upload_id,
               imported.rows_accepted, imported.rows_rejected, imported.duplicates_removed);
  return result;
}

StatusOr<bool> IngestService::PutItem(const std::string& tid, const store::ItemRecord& item) {
  ASSIGN_OR_RETURN(auto tenant, o_.tenants->Open(tid));
  const bool existed = tenant->GetItem(item.item_id).ok();
  const int64_t now = o_.clock->NowMillis();
  ASSIGN_OR_RETURN(auto batch, tenant->BeginImport());
  RETURN_IF_ERROR(batch->UpsertItem(item, now));
  RETURN_IF_ERROR(batch->AppendEvent(store::TenantStore::kItemCatalogUpdated,
                                     JsonText(json::object{{"upserted_item_id", item.item_id}}), now));
  RETURN_IF_ERROR(batch->Commit());
  if (o_.item_changed) o_.item_changed(tid);
  return existed;
}

Status IngestService::DeleteItem(const std::string& tid, const std::string& item_id) {
  ASSIGN_OR_RETURN(auto tenant, o_.tenants->Open(tid));
  RETURN_IF_ERROR(tenant->DeleteItem(item_id, o_.clock->NowMillis()));
  if (o_.item_changed) o_.item_changed(tid);
  return Status::Ok();
}

StatusOr<json::object> IngestService::UploadItems(const std::string& tid, UploadSource source, ItemsMode mode,
                                                  const std::string& currency) {
  Kind kind{"items", store::TenantStore::kItemCatalogUpdated,
            [&](ByteSource* csv, const BeginBatch& begin, const std::string&, int64_t now,
                json::object* result) -> StatusOr<ImportResult> {
              ASSIGN_OR_RETURN(store::ImportBatch * batch, begin());
              ASSIGN_OR_RETURN(auto imported, ImportItemsCsv(csv, batch, now, currency));
              (*result)["mode"] = mode == ItemsMode::kReplace ? "replace" : "upsert";
              if (mode == ItemsMode::kReplace) {
                ASSIGN_OR_RETURN(int64_t deleted, batch->DeleteItemsNotUpserted(now));
                (*result)["items_deleted"] = deleted;
              }
              return imported;
            }};
  return Run(tid, source, kind);
}

StatusOr<json::object> IngestService::UploadInteractions(const std::string& tid, UploadSource source,
                                                         const std::set<std::string>& custom_types,
                                                         const std::string& currency) {
  ASSIGN_OR_RETURN(auto tenant, o_.tenants->Open(tid));
  Kind kind{"interactions", store::TenantStore::kInteractionsUploaded,
            [&](ByteSource* csv, const BeginBatch& begin, const std::string& upload_id, int64_t now,
                json::object* result) -> StatusOr<ImportResult> {
              InteractionImportOptions opt;
              opt.custom_types = custom_types;
              opt.currency = currency;
              opt.now_ms = now;
              opt.spill_dir = o_.spill_dir;
              IdSnapshot ids;
              ASSIGN_OR_RETURN(ids.items, tenant->LoadItemIndex());
              ASSIGN_OR_RETURN(ids.users, tenant->LoadUserIndex());
              InteractionStats st;
              ASSIGN_OR_RETURN(auto imported, ImportInteractionsCsv(csv, ids, begin, opt, &st));
              spdlog::info("tenant {}: upload {} read {:.2f} s ({} sorted runs spilled), "
                           "wrote {:.2f} s under the write lock",
                           tid, upload_id, st.read_seconds, st.runs_spilled, st.write_seconds);
              json::object types;
              for (const auto& [t, n] : st.types) types[t] = n;
              json::object range;
              if (st.max_ts_ms > 0) {
                range["start"] = FormatRfc3339Millis(st.min_ts_ms);
                range["end"] = FormatRfc3339Millis(st.max_ts_ms);
              }
              (*result)["statistics"] = json::object{{"unique_users", st.unique_users},
                                                     {"unique_items", st.unique_items},
                                                     {"interaction_types", std::move(types)},
                                                     {"time_range", std::move(range)}};
              return imported;
            }};
  return Run(tid, source, kind);
}

}  // namespace embedrec::ingest
