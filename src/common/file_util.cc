#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace embedrec {

Status WriteFileAtomically(const std::string& path, std::string_view content, int mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Internal("cannot create " + tmp + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    std::string msg = "cannot " + what + " " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Internal(msg);
  };
  size_t done = 0;
  while (done < content.size()) {
    ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) return fail("flush");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename onto");
  return Status::Ok();
}

int64_t DirectoryBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t bytes = 0;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;  // a file gone meanwhile is skipped, the walk goes on
    if (!it->is_regular_file(file_ec)) continue;
    const auto n = it->file_size(file_ec);
    if (!file_ec) bytes += static_cast<int64_t>(n);
  }
  return bytes;
}

namespace {

Status IoError(const char* what, const char* op) {
  return Status::Internal(std::string(what) + ": " + op + ": " + std::strerror(errno));
}

}  // namespace

StatusOr<int> CreateAnonymousFile(const std::string& dir, const char* what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string tmpl = dir + "/spill-XXXXXX";
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return IoError(what, "create");
  ::unlink(tmpl.c_str());
  return fd;
}

Status PWriteAll(int fd, const void* data, size_t n, uint64_t offset, const char* what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError(what, "write");
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return Status::Ok();
}

std::string ExecutableDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec || !exe.has_parent_path() ? std::string(".") : exe.parent_path().string();
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return IoError(path.c_str(), "open");
  }
  struct stat st {};
  Status s = ::fstat(fd, &st) == 0 ? Status::Ok() : IoError(path.c_str(), "stat");
  std::string out;
  if (s.ok()) {
    out.resize(static_cast<size_t>(st.st_size));
    s = PReadAll(fd, out.data(), out.size(), 0, path.c_str());
  }
  ::close(fd);
  RETURN_IF_ERROR(s);
  return out;
}

Status PReadAll(int fd, void* data, size_t n, uint64_t offset, const char* what) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return IoError(what, "read");
    }
    if (r == 0) return Status::Internal(std::string(what) + ": unexpected end");
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

}  // namespace embedrec
