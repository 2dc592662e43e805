// A small S3 client over libcurl: one signed request at a time, with
// retries of what failed in transit or with a 5xx. Requests are signed with
// SigV4 (sigv4.h, which says why not libcurl's own), the payload's SHA-256
// in x-amz-content-sha256.
//
// Only what the blob store needs: object PUT/GET/DELETE, ListObjectsV2 and
// multipart upload. Keys are the blob store's (already URL-safe).
//
// Thread safety: safe for concurrent use (a pool of curl handles, each
// keeping its connections alive).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "blob/blob_store.h"
#include "blob/s3/sigv4.h"
#include "common/status.h"

namespace embedrec::blob {

struct S3Response {
  long status = 0;
  std::string body;
  std::string etag;  // the ETag header, quotes kept
};

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Query parameters, in any order ("uploads" is {"uploads", ""}).
  using Query = std::vector<std::pair<std::string, std::string>>;

  // `object` is the object's full name in the bucket ("" for the bucket).
  // Transport errors and 5xx are retried; the answer of the last try is
  // returned. kUnavailable when S3 could not be reached at all.
  StatusOr<S3Response> Request(const std::string& method, const std::string& object, Query query = {},
                               const std::string& body = {});

  // RFC 3986 percent-encoding (unreserved characters kept; `keep` too).
  static std::string Encode(const std::string& s, const std::string& keep = "");
  // The text of the first <tag>…</tag> at or after `from` (entities decoded),
  // and where it ends; npos when absent. Enough for S3's flat answers.
  static std::string XmlText(const std::string& xml, const std::string& tag, size_t* from = nullptr);
  // A Status for an S3 error answer: its <Code> and <Message>, the HTTP status.
  static Status ErrorOf(const std::string& what, const S3Response& r);

  const S3Options& options() const { return options_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Acquire();
  void Release(std::unique_ptr<Handle> h);
  StatusOr<S3Response> Once(Handle& h, const std::string& method, const std::string& path,
                            const Query& query, const std::string& body);

  S3Options options_;
  std::string host_;         // "127.0.0.1:9000", "bucket.s3.region.amazonaws.com"
  std::string origin_;       // scheme and host
  std::string bucket_path_;  // "/bucket" (path-style endpoint) or "" (virtual-hosted)
  SigV4Credentials credentials_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;
};

}  // namespace embedrec::blob
