// Blob storage for uploads, archives and model files.
//
// Keys are relative paths of '/'-separated segments of [A-Za-z0-9._-] (no
// empty, "." or ".." segment), e.g. "uploads/2024/items_001.csv.zst".
// Writes are atomic: a reader sees the old object or the new one, never a
// torn one, even after a crash.
//
// Backends: FsBlobStore (local files; embedded default) and S3BlobStore (any
// S3-compatible endpoint; scale-out: every node sees the same objects).
//
// Thread safety: safe for concurrent use; methods block on I/O.
#pragma once

#include <cstdint>
#include <functional>
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
  // Removes every object of the tenant's area (a deleted tenant). OK when
  // there is none.
  virtual Status Drop(const std::string& tenant_id) = 0;
  // Removes what writers stopped mid-write left in every tenant's area
  // (unfinished files, multipart uploads never completed nor aborted) that
  // were started before `started_before_ms`: a writer still running, here or
  // on another node, is younger. The number removed.
  virtual StatusOr<int64_t> RemoveAbandoned(int64_t started_before_ms) = 0;
};

// Local-filesystem backend rooted at `root` (created when missing). Its
// Location(key) is "file:" + `location_prefix` + key when a prefix is given
// (a path relative to the data dir: answers never show the server's own
// paths), the absolute "file:///…" path otherwise.
StatusOr<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root, const std::string& location_prefix = "");

// Embedded: `tenants_root`/<tenant_id>/blobs, inside the tenant's directory
// (which dropping the tenant's space removes); the tenant's directory must
// exist, ids that are not plain names are refused. Locations read
// "file:tenants/<tenant_id>/blobs/<key>" (under the data dir).
std::unique_ptr<TenantBlobStores> NewFsTenantBlobStores(const std::string& tenants_root);

// Removes what writers left under `root` when their process was killed
// mid-write (".tmp-*" files: never visible as blobs) and last modified
// before `modified_before_ms` (by default all: call at start, before anything
// writes there). The number removed.
int64_t RemoveFsTempFiles(const std::string& root, int64_t modified_before_ms = INT64_MAX);

// Where an S3 backend keeps its objects, and as whom it signs.
struct S3Options {
  std::string endpoint;  // "http://127.0.0.1:9000" (path-style); empty: AWS, virtual-hosted
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;    // "" or segments ending with '/', e.g. "embedrec/"
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // temporary credentials; empty when none
  // Objects written piecewise go up as a multipart upload in parts of this
  // size (S3's minimum is 5 MiB); smaller ones in one PUT at Commit.
  size_t part_size = size_t{8} << 20;
  int list_page = 1000;     // keys per listing request (S3's most)
  long timeout_ms = 30000;  // per request
  int attempts = 3;         // tries of a request failing in transit or with a 5xx
};

// "s3://bucket/prefix" with the endpoint, region and credentials from the
// environment (EMBEDREC_S3_ENDPOINT, AWS_REGION or AWS_DEFAULT_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
// kInvalidArgument for a malformed URL or missing credentials.
StatusOr<S3Options> S3OptionsFromUrl(const std::string& url);

// An S3 backend over `options.bucket`/`options.prefix`. Checks that the
// bucket answers; kUnavailable when it does not.
StatusOr<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3Options& options);

// Scale-out: tenant T's area is `prefix`tenants/T/ in the bucket. A tenant
// has an area while `has_space(T)` says so (its tenant store exists).
std::unique_ptr<TenantBlobStores> NewS3TenantBlobStores(
    const S3Options& options, std::function<bool(const std::string& tenant_id)> has_space);

}  // namespace embedrec::blob
