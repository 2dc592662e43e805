// Bulk data into a tenant's space, callable without HTTP (the upload routes
// call it; a later import from object storage or a stream will too).
//
// One upload: the bytes are decompressed (gzip/zstd), archived as they pass
// (zstd level 1, in the tenant's blob area), parsed and validated row by row
// (ingest/item_import.h, interaction_import.h), and committed atomically with
// the upload's record and an event announcing it; then `data_changed` tells
// whoever caches the tenant's data (serving). Any error drops the batch:
// nothing is stored, and an archive written without its rows is harmless.
//
// Thread safety: safe for concurrent use; one tenant's imports serialise on
// its write lock (taken as late as possible: after the file is read).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "blob/blob_store.h"
#include "common/byte_source.h"
#include "common/clock.h"
#include "common/status.h"
#include "ingest/compression.h"
#include "store/tenant_stores.h"

namespace embedrec::ingest {

// Where an upload's CSV comes from.
struct UploadSource {
  ByteSource* bytes = nullptr;                 // as received
  Compression compression = Compression::kNone;
  // Called once the CSV has been read, before anything is committed (the
  // HTTP route reads the multipart parts after the file there); an error
  // drops the upload.
  std::function<Status()> after_read;
  // Told, as the CSV is read (about every 64 KiB) and once at its end, the
  // bytes and the lines read so far (the rows being imported); may be null.
  std::function<void(int64_t bytes, int64_t lines, bool done)> progress;
};

enum class ItemsMode { kUpsert, kReplace };  // replace: items not in the file are deleted

struct IngestOptions {
  store::TenantStores* tenants = nullptr;
  std::function<StatusOr<std::unique_ptr<blob::BlobStore>>(const std::string& tenant_id)> open_blobs;
  const Clock* clock = nullptr;
  std::string spill_dir;  // temporary sorted runs of large interaction files
  // After a commit: the tenant's catalog or history changed.
  std::function<void(const std::string& tenant_id)> data_changed;
  // After an item is written or deleted one by one (PUT, DELETE): serving
  // shows it as it now is from the next request (this node's catalog read
  // again; other nodes told).
  std::function<void(const std::string& tenant_id)> item_changed;
};

class IngestService {
 public:
  explicit IngestService(IngestOptions options) : o_(std::move(options)) {}

  // The upload's result as it is answered and recorded (GET
  // /api/v1/data/uploads): status, rows_accepted, rows_rejected,
  // duplicates_removed, validation_errors, validation_errors_not_listed,
  // extra_columns, upload_id, storage_location, and per kind: mode and
  // items_deleted (items), statistics (interactions).
  // `currency`: the shop's (settings.currency, an ISO code; empty: none):
  // amounts written in another are refused.
  StatusOr<boost::json::object> UploadItems(const std::string& tenant_id, UploadSource source, ItemsMode mode,
                                            const std::string& currency);
  // `custom_types`: the tenant's interaction types beyond the built-in ones.
  StatusOr<boost::json::object> UploadInteractions(const std::string& tenant_id, UploadSource source,
                                                   const std::set<std::string>& custom_types,
                                                   const std::string& currency);

  // One catalog item created or replaced (PUT /api/v1/items/{item_id}), with
  // its item-catalog-updated event; true when it existed. Serving shows the
  // change when its catalog snapshot is next rebuilt (not at once: a shop
  // writing items one by one must not reload its catalog per item).
  StatusOr<bool> PutItem(const std::string& tenant_id, const store::ItemRecord& item);
  // Soft-deletes an item (its history is kept); serving stops showing it at
  // once. kNotFound for an unknown item.
  Status DeleteItem(const std::string& tenant_id, const std::string& item_id);

 private:
  struct Kind;
  StatusOr<boost::json::object> Run(const std::string& tenant_id, UploadSource& source, const Kind& kind);

  IngestOptions o_;
};

}  // namespace embedrec::ingest
