// Blob storage for uploads, archives and model files.
//
// Keys are relative paths of '/'-separated segments of [A-Za-z0-9._-] (no
// empty, "." or ".." segment), e.g. "uploads/2024/items_001.csv.zst".
// Writes are atomic: a reader sees the old object or the new one, never a
// torn one, even after a crash.
//
// Backends: FsBlobStore (local files; embedded default). An S3 backend comes
// with the scale-out issue.
//
// Thread safety: safe for concurrent use; methods block on I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace embedrec::blob {

struct BlobInfo {
  std::string key;
  uint64_t size = 0;
};

// An object written piecewise (e.g. an upload archived while it streams in).
// Nothing is visible under the key until Commit; destroying an uncommitted
// writer discards what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Commit() = 0;
  virtual uint64_t bytes() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Writes `data` under `key`, replacing any previous object atomically.
  // kInvalidArgument for a malformed key.
  virtual Status Put(const std::string& key, const std::string& data) = 0;
  // Starts writing `key` piecewise. kInvalidArgument for a malformed key.
  virtual StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key) = 0;
  // kNotFound when absent.
  virtual StatusOr<std::string> Get(const std::string& key) = 0;
  // OK when already absent.
  virtual Status Delete(const std::string& key) = 0;
  // Objects whose key starts with `prefix`, sorted by key.
  virtual StatusOr<std::vector<BlobInfo>> List(const std::string& prefix) = 0;
  // A URL naming the object for humans and logs ("file:///data/...").
  virtual std::string Location(const std::string& key) const = 0;
};

// True when `key` is a valid blob key (see above).
bool IsValidBlobKey(const std::string& key);

// Each tenant's blob area, opened by tenant id; where it lives is the
// backend's business (a directory, a bucket prefix).
class TenantBlobStores {
 public:
  virtual ~TenantBlobStores() = default;
  // kNotFound when the tenant has no space (never created, or dropped).
  virtual StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& tenant_id) = 0;
};

// Local-filesystem backend rooted at `root` (created when missing).
StatusOr<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root);

// Embedded: `tenants_root`/<tenant_id>/blobs, inside the tenant's directory
// (which dropping the tenant's space removes); the tenant's directory must
// exist, ids that are not plain names are refused.
std::unique_ptr<TenantBlobStores> NewFsTenantBlobStores(const std::string& tenants_root);

}  // namespace embedrec::blob
