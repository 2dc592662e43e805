// S3 BlobStore. A PUT replaces an object atomically (S3 never shows a torn
// one); an object written piecewise goes up as a multipart upload once it
// outgrows one part, and is visible only when the upload completes; an
// abandoned one is aborted, so S3 frees its parts.
#include <cstdlib>

#include "blob/blob_store.h"
#include "blob/s3/s3_client.h"
#include "common/time_format.h"

namespace embedrec::blob {
namespace {

bool PlainSegment(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                                              std::string::npos;
}

Status BadKey(const std::string& key) { return Status::InvalidArgument("invalid blob key '" + key + "'"); }

class S3BlobWriter final : public BlobWriter {
 public:
  S3BlobWriter(std::shared_ptr<S3Client> s3, std::string object)
      : s3_(std::move(s3)), object_(std::move(object)) {}

  ~S3BlobWriter() override {
    if (!upload_id_.empty() && !committed_) {
      (void)s3_->Request("DELETE", object_, {{"uploadId", upload_id_}});
    }
  }

  Status Append(std::string_view data) override {
    if (committed_) return Status::FailedPrecondition("blob writer is closed");
    buffer_.append(data);
    bytes_ += data.size();
    const size_t part = std::max<size_t>(s3_->options().part_size, size_t{5} << 20);
    while (buffer_.size() >= part) {
      RETURN_IF_ERROR(UploadPart(buffer_.substr(0, part)));
      buffer_.erase(0, part);
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (committed_) return Status::FailedPrecondition("blob writer is closed");
    if (upload_id_.empty()) {
      ASSIGN_OR_RETURN(auto r, s3_->Request("PUT", object_, {}, buffer_));
      if (r.status != 200) return S3Client::ErrorOf("put " + object_, r);
    } else {
      if (!buffer_.empty()) RETURN_IF_ERROR(UploadPart(buffer_));
      std::string xml = "<CompleteMultipartUpload>";
      for (size_t i = 0; i < etags_.size(); ++i) {
        xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags_[i] + "</ETag></Part>";
      }
      xml += "</CompleteMultipartUpload>";
      ASSIGN_OR_RETURN(auto r, s3_->Request("POST", object_, {{"uploadId", upload_id_}}, xml));
      // S3 may answer 200 and put the error in the body.
      if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
        return S3Client::ErrorOf("complete upload of " + object_, r);
      }
    }
    committed_ = true;
    buffer_.clear();
    return Status::Ok();
  }

  uint64_t bytes() const override { return bytes_; }

 private:
  Status UploadPart(const std::string& data) {
    if (upload_id_.empty()) {
      ASSIGN_OR_RETURN(auto r, s3_->Request("POST", object_, {{"uploads", ""}}));
      upload_id_ = S3Client::XmlText(r.body, "UploadId");
      if (r.status != 200 || upload_id_.empty()) return S3Client::ErrorOf("start upload of " + object_, r);
    }
    ASSIGN_OR_RETURN(auto r, s3_->Request("PUT", object_,
                                          {{"partNumber", std::to_string(etags_.size() + 1)}, {"uploadId", upload_id_}},
                                          data));
    if (r.status != 200 || r.etag.empty()) return S3Client::ErrorOf("upload a part of " + object_, r);
    etags_.push_back(r.etag);
    return Status::Ok();
  }

  std::shared_ptr<S3Client> s3_;
  std::string object_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  uint64_t bytes_ = 0;
  bool committed_ = false;
};

class S3BlobStore final : public BlobStore {
 public:
  // `root` is the store's prefix in the bucket ("" or ending with '/').
  S3BlobStore(std::shared_ptr<S3Client> s3, std::string root) : s3_(std::move(s3)), root_(std::move(root)) {}

  Status Put(const std::string& key, const std::string& data) override {
    if (!IsValidBlobKey(key)) return BadKey(key);
    ASSIGN_OR_RETURN(auto r, s3_->Request("PUT", root_ + key, {}, data));
    if (r.status != 200) return S3Client::ErrorOf("put " + key, r);
    return Status::Ok();
  }

  StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key) override {
    if (!IsValidBlobKey(key)) return BadKey(key);
    return std::unique_ptr<BlobWriter>(new S3BlobWriter(s3_, root_ + key));
  }

  StatusOr<std::string> Get(const std::string& key) override {
    if (!IsValidBlobKey(key)) return BadKey(key);
    ASSIGN_OR_RETURN(auto r, s3_->Request("GET", root_ + key));
    if (r.status == 404) return Status::NotFound("blob '" + key + "' does not exist");
    if (r.status != 200) return S3Client::ErrorOf("get " + key, r);
    return std::move(r.body);
  }

  Status Delete(const std::string& key) override {
    if (!IsValidBlobKey(key)) return BadKey(key);
    ASSIGN_OR_RETURN(auto r, s3_->Request("DELETE", root_ + key));
    if (r.status != 204 && r.status != 200 && r.status != 404) return S3Client::ErrorOf("delete " + key, r);
    return Status::Ok();
  }

  StatusOr<std::vector<BlobInfo>> List(const std::string& prefix) override {
    std::vector<BlobInfo> out;
    // Pages follow on from the last key (start-after) rather than S3's
    // continuation token: our keys need no escaping, its tokens may.
    bool more = true;
    while (more) {
      S3Client::Query query = {{"list-type", "2"}, {"max-keys", std::to_string(s3_->options().list_page)},
                               {"prefix", root_ + prefix}};
      if (!out.empty()) query.push_back({"start-after", root_ + out.back().key});
      ASSIGN_OR_RETURN(auto r, s3_->Request("GET", "", query));
      if (r.status != 200) return S3Client::ErrorOf("list " + prefix, r);
      size_t at = 0, before = out.size();
      while (true) {
        std::string entry = S3Client::XmlText(r.body, "Contents", &at);
        if (at == std::string::npos) break;
        std::string key = S3Client::XmlText(entry, "Key");
        if (key.compare(0, root_.size(), root_) != 0) continue;
        out.push_back({key.substr(root_.size()), std::strtoull(S3Client::XmlText(entry, "Size").c_str(), nullptr, 10)});
      }
      more = S3Client::XmlText(r.body, "IsTruncated") == "true" && out.size() > before;
    }
    return out;  // S3 lists in key order (UTF-8 binary), as callers expect
  }

  std::string Location(const std::string& key) const override {
    return "s3://" + s3_->options().bucket + "/" + root_ + key;
  }

  // Deletes every object under the store's root (one request each: a
  // tenant's area holds its uploads and a few model versions).
  Status DeleteAll() {
    ASSIGN_OR_RETURN(auto all, List(""));
    for (const auto& b : all) RETURN_IF_ERROR(Delete(b.key));
    return Status::Ok();
  }

 private:
  std::shared_ptr<S3Client> s3_;
  std::string root_;
};

class S3TenantBlobStores final : public TenantBlobStores {
 public:
  S3TenantBlobStores(std::shared_ptr<S3Client> s3, std::function<bool(const std::string&)> has_space)
      : s3_(std::move(s3)), has_space_(std::move(has_space)) {}

  StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& tenant_id) override {
    if (!PlainSegment(tenant_id) || !has_space_(tenant_id)) {
      return Status::NotFound("tenant " + tenant_id + " has no blob area");
    }
    return std::unique_ptr<BlobStore>(Area(tenant_id));
  }

  Status Drop(const std::string& tenant_id) override {
    if (!PlainSegment(tenant_id)) return Status::Ok();
    return Area(tenant_id)->DeleteAll();
  }

  // ListMultipartUploads over every tenant's area, page by page; each upload
  // started before the limit is aborted (S3 then frees its parts).
  StatusOr<int64_t> RemoveAbandoned(int64_t started_before_ms) override {
    const std::string prefix = s3_->options().prefix + "tenants/";
    int64_t removed = 0;
    std::string key_marker, id_marker;
    while (true) {
      S3Client::Query query = {{"uploads", ""}, {"prefix", prefix}};
      if (!key_marker.empty()) {
        query.push_back({"key-marker", key_marker});
        query.push_back({"upload-id-marker", id_marker});
      }
      ASSIGN_OR_RETURN(auto r, s3_->Request("GET", "", query));
      if (r.status != 200) return S3Client::ErrorOf("list multipart uploads", r);
      size_t at = 0;
      while (true) {
        std::string upload = S3Client::XmlText(r.body, "Upload", &at);
        if (at == std::string::npos) break;
        const std::string key = S3Client::XmlText(upload, "Key"), id = S3Client::XmlText(upload, "UploadId");
        const auto started = ParseRfc3339Millis(S3Client::XmlText(upload, "Initiated"));
        if (key.compare(0, prefix.size(), prefix) != 0 || id.empty() || !started || *started >= started_before_ms) {
          continue;
        }
        ASSIGN_OR_RETURN(auto aborted, s3_->Request("DELETE", key, {{"uploadId", id}}));
        if (aborted.status != 204 && aborted.status != 200 && aborted.status != 404) {
          return S3Client::ErrorOf("abort the upload of " + key, aborted);
        }
        ++removed;
      }
      if (S3Client::XmlText(r.body, "IsTruncated") != "true") break;
      std::string next_key = S3Client::XmlText(r.body, "NextKeyMarker");
      std::string next_id = S3Client::XmlText(r.body, "NextUploadIdMarker");
      if (next_key.empty() || (next_key == key_marker && next_id == id_marker)) break;  // no progress
      key_marker = std::move(next_key);
      id_marker = std::move(next_id);
    }
    return removed;
  }

 private:
  std::unique_ptr<S3BlobStore> Area(const std::string& tenant_id) {
    return std::make_unique<S3BlobStore>(s3_, s3_->options().prefix + "tenants/" + tenant_id + "/");
  }

  std::shared_ptr<S3Client> s3_;
  std::function<bool(const std::string&)> has_space_;
};

Status CheckOptions(const S3Options& o) {
  if (o.bucket.empty()) return Status::InvalidArgument("S3: no bucket given");
  if (!o.prefix.empty() && (o.prefix.back() != '/' || !IsValidBlobKey(o.prefix.substr(0, o.prefix.size() - 1)))) {
    return Status::InvalidArgument("S3: the prefix '" + o.prefix + "' must be key segments ending with '/'");
  }
  if (o.access_key.empty() || o.secret_key.empty()) {
    return Status::InvalidArgument("S3: credentials missing (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
  }
  return Status::Ok();
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

StatusOr<S3Options> S3OptionsFromUrl(const std::string& url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    return Status::InvalidArgument("not an s3:// URL: " + url);
  }
  S3Options o;
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  o.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) {
    o.prefix = rest.substr(slash + 1);
    if (!o.prefix.empty() && o.prefix.back() != '/') o.prefix += '/';
  }
  o.endpoint = Env("EMBEDREC_S3_ENDPOINT");
  if (std::string r = Env("AWS_REGION"); !r.empty()) o.region = r;
  else if (std::string d = Env("AWS_DEFAULT_REGION"); !d.empty()) o.region = d;
  o.access_key = Env("AWS_ACCESS_KEY_ID");
  o.secret_key = Env("AWS_SECRET_ACCESS_KEY");
  o.session_token = Env("AWS_SESSION_TOKEN");
  RETURN_IF_ERROR(CheckOptions(o));
  return o;
}

StatusOr<std::unique_ptr<BlobStore>> OpenS3BlobStore(const S3Options& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  auto s3 = std::make_shared<S3Client>(options);
  // The bucket answers (and our signature is accepted) before anything relies on it.
  ASSIGN_OR_RETURN(auto r, s3->Request("HEAD", ""));
  if (r.status != 200) return Status::Unavailable(S3Client::ErrorOf("bucket " + options.bucket, r).message());
  return std::unique_ptr<BlobStore>(new S3BlobStore(std::move(s3), options.prefix));
}

std::unique_ptr<TenantBlobStores> NewS3TenantBlobStores(const S3Options& options,
                                                        std::function<bool(const std::string&)> has_space) {
  return std::make_unique<S3TenantBlobStores>(std::make_shared<S3Client>(options), std::move(has_space));
}

}  // namespace embedrec::blob
