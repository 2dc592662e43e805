// Local-filesystem BlobStore. Put writes a temporary file in the target's
// directory, fsyncs it, renames it over the target and fsyncs the directory,
// so a crash at any point leaves either the old or the new object.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "blob/blob_store.h"
#include "common/file_util.h"
#include "common/random.h"
#include "common/strings.h"

namespace embedrec::blob {
namespace fs = std::filesystem;

bool IsValidBlobKey(const std::string& key) {
  if (key.empty() || key.size() > 1024) return false;
  for (auto seg : Split(key, '/')) {
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

namespace {

Status Errno(const std::string& what) {
  return Status::Internal(what + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write " + path);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FsyncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open dir " + dir.string());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync dir " + dir.string());
  return Status::Ok();
}

class FsBlobWriter final : public BlobWriter {
 public:
  FsBlobWriter(fs::path target, fs::path tmp, int fd)
      : target_(std::move(target)), tmp_(std::move(tmp)), fd_(fd) {}
  ~FsBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::FailedPrecondition("blob writer is closed");
    RETURN_IF_ERROR(WriteAll(fd_, data, tmp_.string()));
    bytes_ += data.size();
    return Status::Ok();
  }
  Status Commit() override {
    if (fd_ < 0) return Status::FailedPrecondition("blob writer is closed");
    Status s;
    if (::fsync(fd_) != 0) s = Errno("fsync " + tmp_.string());
    ::close(fd_);
    fd_ = -1;
    if (s.ok() && ::rename(tmp_.c_str(), target_.c_str()) != 0) s = Errno("rename " + tmp_.string());
    if (!s.ok()) return s;
    committed_ = true;
    return FsyncDir(target_.parent_path());
  }
  uint64_t bytes() const override { return bytes_; }

 private:
  fs::path target_, tmp_;
  int fd_;
  bool committed_ = false;
  uint64_t bytes_ = 0;
};

class FsBlobStore final : public BlobStore {
 public:
  FsBlobStore(fs::path root, std::string location_prefix)
      : root_(std::move(root)), location_prefix_(std::move(location_prefix)) {}

  StatusOr<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key) override {
    if (!IsValidBlobKey(key)) return Status::InvalidArgument("invalid blob key '" + key + "'");
    fs::path target = root_ / key;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Status::Internal("mkdir " + target.parent_path().string() + ": " + ec.message());
    fs::path tmp = target.parent_path() / (".tmp-" + RandomBase62(12));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create " + tmp.string());
    return std::unique_ptr<BlobWriter>(new FsBlobWriter(target, tmp, fd));
  }

  Status Put(const std::string& key, const std::string& data) override {
    ASSIGN_OR_RETURN(auto writer, OpenWriter(key));
    RETURN_IF_ERROR(writer->Append(data));
    return writer->Commit();
  }

  StatusOr<std::string> Get(const std::string& key) override {
    if (!IsValidBlobKey(key)) return Status::InvalidArgument("invalid blob key '" + key + "'");
    auto data = ReadWholeFile((root_ / key).string());
    if (data.status().code() == StatusCode::kNotFound) return Status::NotFound("blob '" + key + "' does not exist");
    return data;
  }

  Status Delete(const std::string& key) override {
    if (!IsValidBlobKey(key)) return Status::InvalidArgument("invalid blob key '" + key + "'");
    std::error_code ec;
    fs::remove(root_ / key, ec);
    if (ec) return Status::Internal("delete blob '" + key + "': " + ec.message());
    return Status::Ok();
  }

  StatusOr<std::vector<BlobInfo>> List(const std::string& prefix) override {
    std::vector<BlobInfo> out;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string key = fs::relative(it->path(), root_).generic_string();
      if (key.rfind(".tmp-", 0) == 0 || key.find("/.tmp-") != std::string::npos) continue;
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      out.push_back({key, static_cast<uint64_t>(it->file_size())});
    }
    if (ec) return Status::Internal("list blobs: " + ec.message());
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
    return out;
  }

  std::string Location(const std::string& key) const override {
    if (!location_prefix_.empty()) return "file:" + location_prefix_ + key;
    return "file://" + (root_ / key).string();
  }

 private:
  fs::path root_;
  const std::string location_prefix_;
};

}  // namespace

namespace {

bool PlainName(const std::string& tenant_id) {
  return !tenant_id.empty() && tenant_id.size() <= 64 &&
         std::all_of(tenant_id.begin(), tenant_id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

class FsTenantBlobStores final : public TenantBlobStores {
 public:
  explicit FsTenantBlobStores(std::string root) : root_(std::move(root)) {}
  StatusOr<std::unique_ptr<BlobStore>> Open(const std::string& tenant_id) override {
    std::error_code ec;
    if (!PlainName(tenant_id) || !fs::is_directory(fs::path(root_) / tenant_id, ec)) {
      return Status::NotFound("tenant " + tenant_id + " has no blob area");
    }
    return OpenFsBlobStore((fs::path(root_) / tenant_id / "blobs").string(), "tenants/" + tenant_id + "/blobs/");
  }

  Status Drop(const std::string& tenant_id) override {
    if (!PlainName(tenant_id)) return Status::Ok();
    std::error_code ec;
    fs::remove_all(fs::path(root_) / tenant_id / "blobs", ec);
    if (ec) return Status::Internal("drop the blobs of tenant " + tenant_id + ": " + ec.message());
    return Status::Ok();
  }

  StatusOr<int64_t> RemoveAbandoned(int64_t started_before_ms) override {
    return RemoveFsTempFiles(root_, started_before_ms);
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<TenantBlobStores> NewFsTenantBlobStores(const std::string& tenants_root) {
  return std::make_unique<FsTenantBlobStores>(tenants_root);
}

int64_t RemoveFsTempFiles(const std::string& root, int64_t modified_before_ms) {
  int64_t removed = 0;
  std::error_code ec;
  auto modified_ms = [](const fs::path& p) -> int64_t {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return INT64_MAX;  // gone meanwhile: nothing to remove
    return int64_t{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  };
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().filename().string().rfind(".tmp-", 0) == 0 &&
        (modified_before_ms == INT64_MAX || modified_ms(it->path()) < modified_before_ms)) {
      std::error_code rm;
      if (fs::remove(it->path(), rm)) ++removed;
    }
  }
  return removed;
}

StatusOr<std::unique_ptr<BlobStore>> OpenFsBlobStore(const std::string& root, const std::string& location_prefix) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::Internal("cannot create blob root " + root + ": " + ec.message());
  return std::unique_ptr<BlobStore>(new FsBlobStore(fs::absolute(root), location_prefix));
}

}  // namespace embedrec::blob
